//go:build unix

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestForgetPruneKilled kills a forget --prune once the snapshot is gone,
// during its prune, and runs the same command again, as an admin's script
// does after the machine came back: it skips the snapshot forgotten
// already (exit 3, naming it), and its prune finishes the work.
func TestForgetPruneKilled(t *testing.T) {
	bin := buildBinary(t)
	src := filepath.Join(t.TempDir(), "src")
	r := newRepoEnv(t, bin)
	r.run(t, exitOK, "init")
	var ids []string
	for round := range 2 {
		for i := range 4 {
			writeFile(t, src, fmt.Sprintf("f%d.bin", i), randomBytes(uint64(10*round+i), 8<<20))
		}
		ids = append(ids, r.snapshot(t, src, "--host=h").Snapshot)
	}
	manifest := filepath.Join(r.repo, "snapshots", ids[0])
	if _, err := os.Stat(manifest); err != nil {
		t.Fatalf("the manifest is not where the test looks for it: %v", err)
	}

	args := []string{"forget", ids[0][:8], "--prune", "--max-unused=0%"}
	cmd := exec.Command(r.bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, r.env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if _, err := os.Stat(manifest); os.IsNotExist(err) {
			break
		}
	}
	_ = cmd.Process.Kill() // fails only when it has been waited for
	_ = cmd.Wait()
	t.Logf("first run: %v", cmd.ProcessState)

	var sum forgetSummary
	res := r.runJSON(t, exitPartial, &sum, args...)
	if !strings.Contains(res.stderr, ids[0][:8]) || sum.Prune == nil {
		t.Fatalf("the second run names no skipped snapshot or did not prune: %+v\n%s", sum, res.stderr)
	}
	var again pruneSummary
	r.runJSON(t, exitOK, &again, "prune", "--max-unused=0%")
	if again.PacksDeleted != 0 || again.UnusedBytes > again.Bytes/10 {
		t.Errorf("the second run's prune left work: %+v", again.PruneResult)
	}
	requireOK(t, r.check(t, exitOK, "--read-data"))
	if got := r.snapshotIDs(t); len(got) != 1 || got[0] != ids[1] {
		t.Errorf("snapshots %q, want only %s", got, ids[1])
	}
}
