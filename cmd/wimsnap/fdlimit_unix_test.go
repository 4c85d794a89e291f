//go:build unix

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestSnapshotOutOfDescriptors: a snapshot that runs out of file
// descriptors (a tree deeper than the limit allows) fails, stores no
// snapshot and says how to raise the limit. It skipped what it could not
// open, as unreadable, and stored a snapshot with whole directories
// missing, exit 3, which a rollback with --delete then deleted from the
// tree.
func TestSnapshotOutOfDescriptors(t *testing.T) {
	bin := buildBinary(t)
	r := newRepoEnv(t, bin)
	r.run(t, exitOK, "init")
	src := deepTree(t)
	limitedRun(t, r, "snapshot of an 80-level tree", "snapshot", src)
	if res := r.run(t, exitOK, "snapshots", "--json"); strings.Contains(res.stdout, `"id"`) {
		t.Errorf("a snapshot was stored:\n%s", res.stdout)
	}
}

// TestRestoreOutOfDescriptors: a restore, its dry run and a rollback that
// run out of file descriptors fail and say how to raise the limit; run
// again with enough, the restore completes. Each skipped what it could not
// open with a warning, hundreds of them on a system tree, and exit 3.
func TestRestoreOutOfDescriptors(t *testing.T) {
	bin := buildBinary(t)
	r := newRepoEnv(t, bin)
	r.run(t, exitOK, "init")
	src := deepTree(t)
	r.run(t, exitOK, "snapshot", src)
	target := filepath.Join(t.TempDir(), "target")
	limitedRun(t, r, "restore of an 80-level tree", "restore", "latest", "--target", target)
	limitedRun(t, r, "dry run of the restore", "restore", "latest", "--target", target, "--dry-run")
	r.run(t, exitOK, "restore", "latest", "--target", target)
	limitedRun(t, r, "rollback of an 80-level tree", "restore", "latest", "--target", target, "--delete")
	r.run(t, exitOK, "restore", "latest", "--target", target, "--delete")
	wimtest.CompareTrees(t, src, target, wimtest.CompareOptions{IgnoreRoot: true})
}

// deepTree returns a source tree 80 directories deep, with a file at the
// bottom.
func deepTree(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	deep := src
	for i := range 80 {
		deep = filepath.Join(deep, "d"+strings.Repeat("x", i%3))
	}
	writeFile(t, deep, "f", []byte("deep"))
	return src
}

// limitedRun runs wimsnap args in r with 48 file descriptors and fails the
// test unless it exits with exitFailure, saying how to raise the limit.
func limitedRun(t *testing.T, r *repoEnv, what string, args ...string) {
	t.Helper()
	// The limit holds for the shell and the binary it runs.
	cmd := exec.Command("sh", append([]string{"-c", `ulimit -n 48 && exec "$0" "$@"`, r.bin}, args...)...)
	cmd.Env = append(os.Environ(), r.env...)
	out, err := cmd.CombinedOutput()
	var code int
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	if code != exitFailure || !strings.Contains(string(out), "too many open files") || !strings.Contains(string(out), "ulimit -n") {
		t.Fatalf("%s with 48 descriptors: exit %d, want %d naming the limit\n%s", what, code, exitFailure, out)
	}
}
