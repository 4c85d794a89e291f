//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRestoreFixedUnprivileged: as an unprivileged user, a rollback counts
// in metadata_fixed only the kept files whose metadata it did set: not a
// root-owned file whose times it may not set (it counted that), and not a
// setgid file whose group the user is not in, whose bit the kernel drops on
// every chmod: the second rollback set its mode again and counted it, as
// every rerun would. Both stay in place.
func TestRestoreFixedUnprivileged(t *testing.T) {
	bin, tmp := binaryForNobody(t)
	home := filepath.Join(tmp, "home")
	target := filepath.Join(home, "t")
	must(t, os.Mkdir(home, 0o755))
	must(t, os.Chown(home, 65534, 65534))
	run, sh := nobodyIn(t, bin, home)
	sh("mkdir src && echo s > src/s && chmod 2755 src/s && echo r > src/r && chmod 755 src")
	run(exitOK, "init")
	run(exitOK, "snapshot", "src")
	restore := func() restoreSummary {
		t.Helper()
		var sum restoreSummary
		out := run(exitOK, "restore", "latest", "--target", "t", "--json")
		if err := json.Unmarshal([]byte(out), &sum); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return sum
	}
	restore()
	// nobody's file of root's group: chown drops its setgid bit, and a
	// chmod by nobody cannot set it again.
	must(t, os.Chown(filepath.Join(target, "s"), 65534, 0))
	for i := range 2 {
		if sum := restore(); sum.MetadataFixed != 0 || sum.Unchanged != 2 {
			t.Errorf("rollback %d over the setgid file: %d fixed, %d unchanged, want 0 fixed of 2", i+1, sum.MetadataFixed, sum.Unchanged)
		}
	}
	r := filepath.Join(target, "r")
	must(t, os.Chown(r, 0, 0))
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	must(t, os.Chtimes(r, old, old))
	if sum := restore(); sum.MetadataFixed != 0 || sum.Unchanged != 2 {
		t.Errorf("rollback over root's file: %d fixed, %d unchanged, want 0 fixed of 2", sum.MetadataFixed, sum.Unchanged)
	}
}
