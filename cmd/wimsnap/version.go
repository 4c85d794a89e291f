package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

const versionHelp = `
Print which wimsnap this is: its module version ("(devel)" for a build
from a checkout), the git commit it was built from, whether the checkout
had uncommitted changes, the commit's time, and the Go release and
platform it was built with. Bug reports need this line; 'wimsnap
--version' prints the same.

The exit code is 0.

With --json, stdout receives one document: {"version", "revision",
"modified", "time", "go", "platform"}; "revision" and "time" are empty
for a build without version control information (go run).`

// versionInfo is what "wimsnap version" reports, from the build
// information the Go toolchain embeds.
type versionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision"`
	Modified bool   `json:"modified"`
	Time     string `json:"time"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// buildVersion reads this binary's version information.
func buildVersion() versionInfo {
	v := versionInfo{Version: "unknown", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Version = bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		case "vcs.time":
			v.Time = s.Value
		}
	}
	return v
}

// String is the version line: "v1.2.0 (commit 1a2b3c4d5e6f, modified,
// 2026-12-07T15:00:00Z; go1.26.8 linux/amd64)", or without the commit
// when the build has none.
func (v versionInfo) String() string {
	build := v.Go + " " + v.Platform
	if v.Revision == "" {
		return v.Version + " (" + build + ")"
	}
	commit := "commit " + v.Revision[:min(12, len(v.Revision))]
	if v.Modified {
		commit += ", modified"
	}
	return v.Version + " (" + commit + ", " + v.Time + "; " + build + ")"
}

func (a *app) newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print wimsnap's version, the commit it was built from and its Go release",
		Long:  versionHelp,
		Args:  argsBetween(0, 0),
		RunE:  a.body(func(context.Context, *cobra.Command, []string) error { return a.printVersion() }),
	}
}

// printVersion prints the version line, or its --json document.
func (a *app) printVersion() error {
	v := buildVersion()
	if a.json {
		return writeJSON(a.stdout, v)
	}
	_, err := fmt.Fprintf(a.stdout, "wimsnap %s\n", v)
	return err
}
