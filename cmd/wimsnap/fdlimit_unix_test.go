//go:build unix

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
	src := filepath.Join(t.TempDir(), "src")
	deep := src
	for i := range 80 {
		deep = filepath.Join(deep, "d"+strings.Repeat("x", i%3))
	}
	writeFile(t, deep, "f", []byte("deep"))
	// The limit holds for the shell and the binary it runs.
	cmd := exec.Command("sh", "-c", `ulimit -n 48 && exec "$0" snapshot "$1"`, bin, src)
	cmd.Env = append(os.Environ(), r.env...)
	out, err := cmd.CombinedOutput()
	var code int
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	if code != exitFailure || !strings.Contains(string(out), "too many open files") || !strings.Contains(string(out), "ulimit -n") {
		t.Fatalf("snapshot of an 80-level tree with 48 descriptors: exit %d, want %d naming the limit\n%s", code, exitFailure, out)
	}
	if res := r.run(t, exitOK, "snapshots", "--json"); strings.Contains(res.stdout, `"id"`) {
		t.Errorf("a snapshot was stored:\n%s", res.stdout)
	}
}
