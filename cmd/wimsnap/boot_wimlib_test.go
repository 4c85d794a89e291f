//go:build unix && wimlib

package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestOracleImportBootExport: an imported WIM's boot image (its header's
// boot index, set by wimlib-imagex append --boot) is remembered by its
// snapshot, and export marks it bootable again, where it lands among the
// images exported, unless --boot says otherwise (--boot=0: none); import
// dropped it, and the boot WIM exported back did not boot.
func TestOracleImportBootExport(t *testing.T) {
	tmp := t.TempDir()
	for _, d := range []string{"a", "b"} {
		writeFile(t, filepath.Join(tmp, d), d+".txt", []byte(d))
	}
	w := filepath.Join(tmp, "boot.wim")
	wimtest.Wimlib(t, "capture", filepath.Join(tmp, "a"), w, "setup")
	wimtest.Wimlib(t, "append", filepath.Join(tmp, "b"), w, "pe", "--boot")
	env := map[string]string{envRepository: filepath.Join(tmp, "repo"), envCacheDir: filepath.Join(tmp, "cache")}
	runAppOK(t, env, "init")
	var imp struct {
		Snapshots []struct{ Snapshot string } `json:"snapshots"`
	}
	must(t, json.Unmarshal([]byte(runAppOK(t, env, "import", w, "--json")), &imp))
	if len(imp.Snapshots) != 2 {
		t.Fatalf("import: %d snapshots, want 2", len(imp.Snapshots))
	}
	setup, pe := imp.Snapshots[0].Snapshot, imp.Snapshots[1].Snapshot
	for i, c := range []struct {
		args []string
		want string
	}{
		{[]string{setup, pe}, "2"},
		{[]string{pe, setup}, "1"},
		{[]string{setup}, "0"},
		{[]string{setup, pe, "--boot=0"}, "0"},
		{[]string{setup, pe, "--boot=1"}, "1"},
	} {
		out := filepath.Join(tmp, strings.Repeat("x", i+1)+".wim")
		args := append([]string{"export"}, c.args...)
		runAppOK(t, env, append(args, out)...)
		if got := wimlibBootIndex(t, out); got != c.want {
			t.Errorf("export %v: wimlib-imagex shows boot index %q, want %s", c.args, got, c.want)
		}
	}
}

// wimlibBootIndex returns the boot index wimlib-imagex info reads from the
// header of the WIM w.
func wimlibBootIndex(t *testing.T, w string) string {
	t.Helper()
	for _, line := range strings.Split(wimtest.Wimlib(t, "info", w, "--header"), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "Boot Index" {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("wimlib-imagex info %s --header shows no boot index", w)
	return ""
}
