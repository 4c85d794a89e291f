package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/snapshot"
)

const checkHelp = `
Check the repository. The structure check reads every index object and
manifest, and makes sure every chunk the index names lies inside a pack
that exists and every stream of every snapshot (its metadata first)
resolves to chunks. --read-data also reads every pack whole and checks its
id, its trailer, and every chunk's id after decompression.

Problems are listed one a line, naming the pack, chunk, snapshot and file
concerned; the snapshots that cannot be restored whole are named. The exit
code is 1 when there are problems.
` + repoHelp + `

With --json, stdout receives one document:
  {"repository", "ok", "snapshots", "packs", "chunks", "streams_checked",
   "packs_read", "unreferenced_packs", "problems": [...],
   "damaged_snapshots": [...], "duration_seconds"}`

func (a *app) newCheckCommand() *cobra.Command {
	var rf repoFlags
	var readData bool
	cmd := &cobra.Command{
		Use:   "check [--repo=LOCATION] [--read-data]",
		Short: "Check the repository's structure (and with --read-data its contents)",
		Long:  long(checkHelp),
		Args:  argsBetween(0, 0),
		RunE: a.body(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			return a.runCheck(ctx, &rf, readData)
		}),
	}
	addRepoFlags(cmd, &rf)
	cmd.Flags().BoolVar(&readData, "read-data", false, "also read and check every pack and chunk")
	return cmd
}

type checkSummary struct {
	Repository string `json:"repository"`
	OK         bool   `json:"ok"`
	snapshot.CheckResult
	DurationSeconds float64               `json:"duration_seconds"`
	Requests        *remote.RequestCounts `json:"requests,omitempty"`
}

func (a *app) runCheck(ctx context.Context, rf *repoFlags, readData bool) error {
	start := a.now()
	r, err := a.openRepo(ctx, rf, false)
	if err != nil {
		return err
	}
	status := a.newStatus()
	tr := &verifyTracker{verb: "reading packs", start: a.now(), now: a.now}
	if readData {
		status.start(func() string { return tr.render() })
	}
	res, err := r.Check(ctx, snapshot.CheckOptions{ReadData: readData, Progress: tr.update})
	status.finish()
	if err != nil && res.Problems == nil {
		return err
	}
	loc, _, _ := a.repoLocation(rf)
	sum := checkSummary{Repository: loc, OK: err == nil, CheckResult: res, DurationSeconds: seconds(a.now().Sub(start)), Requests: a.requests()}
	if a.json {
		if jerr := writeJSON(a.stdout, sum); jerr != nil {
			return jerr
		}
		return err
	}
	for _, p := range res.Problems {
		fmt.Fprintf(a.stdout, "problem: %s\n", p)
	}
	for _, id := range res.Damaged {
		fmt.Fprintf(a.stdout, "damaged snapshot: %s\n", id)
	}
	verdict := "no problems found"
	if err != nil {
		verdict = fmt.Sprintf("%d problems, %d damaged snapshots", len(res.Problems), len(res.Damaged))
	}
	fmt.Fprintf(a.stdout, "Checked %s: %d snapshots, %d packs (%d read), %d chunks, %d streams; %d unreferenced packs; %s\n",
		loc, res.Snapshots, res.Packs, res.PacksRead, res.Chunks, res.Streams, res.Unreferenced, verdict)
	return err
}
