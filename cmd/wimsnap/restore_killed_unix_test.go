//go:build unix

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestRestoreKilledLeftovers kills a restore over a changed tree while it
// writes replacements, then runs it again (without --delete, and once
// more with --dry-run first): the second run completes the tree and
// removes the killed run's temporary files without counting them as
// deleted entries, for it deleted none of the user's.
func TestRestoreKilledLeftovers(t *testing.T) {
	bin := buildBinary(t)
	tmp := t.TempDir()
	src, target := filepath.Join(tmp, "src"), filepath.Join(tmp, "target")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	const bigFiles = 16
	for i := range bigFiles {
		writeFile(t, src, fmt.Sprintf("big%02d.bin", i), randomBytes(uint64(i), 4<<20))
	}
	r := newRepoEnv(t, bin)
	r.run(t, exitOK, "init")
	r.snapshot(t, src, "--host=h")
	r.run(t, exitOK, "restore", "latest", "--target", target)
	for i := range bigFiles {
		writeFile(t, target, fmt.Sprintf("big%02d.bin", i), randomBytes(uint64(100+i), 4<<20))
	}

	cmd := exec.Command(r.bin, "restore", "latest", "--target", target)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, r.env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitLeftover(t, target)
	_ = cmd.Process.Kill() // fails only when it has been waited for
	_ = cmd.Wait()
	left, _ := filepath.Glob(filepath.Join(target, ".wimsnap-*.tmp"))
	if len(left) == 0 {
		t.Fatal("the restore finished before it was killed")
	}

	var dry, sum restoreSummary
	r.runJSON(t, exitOK, &dry, "restore", "latest", "--target", target, "--dry-run")
	r.runJSON(t, exitOK, &sum, "restore", "latest", "--target", target)
	if dry.Deleted != 0 || sum.Deleted != 0 {
		t.Errorf("deleted %d (dry run: %d), want 0: %d temporary files of the killed run are no entries of the user's", sum.Deleted, dry.Deleted, len(left))
	}
	if again, _ := filepath.Glob(filepath.Join(target, ".wimsnap-*")); len(again) != 0 {
		t.Errorf("temporary files left: %v", again)
	}
	wimtest.CompareTrees(t, src, target, wimtest.CompareOptions{})
}

// waitLeftover waits until a temporary file of a restore into target holds
// data, for at most a minute.
func waitLeftover(t *testing.T, target string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		left, _ := filepath.Glob(filepath.Join(target, ".wimsnap-*.tmp"))
		for _, p := range left {
			if st, err := os.Stat(p); err == nil && st.Size() > 0 {
				return
			}
		}
	}
	t.Fatalf("no temporary file with data appeared in %s within a minute", target)
}
