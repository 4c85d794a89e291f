package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestForgetDeleteFails: when one of the snapshots forget removes cannot
// be deleted (an immutable manifest, chattr +i), forget still says how
// many it removed, in its text and in its --json document, which holds
// the error; it printed nothing but the error. It needs a file system
// whose files take the flag.
func TestForgetDeleteFails(t *testing.T) {
	env := testRepoEnv(t)
	var list struct{ Snapshots []struct{ ID string } }
	must(t, json.Unmarshal([]byte(runAppOK(t, env, "snapshots", "--json")), &list))
	if len(list.Snapshots) != 2 {
		t.Fatalf("%d snapshots, want 2", len(list.Snapshots))
	}
	stuck, other := list.Snapshots[0].ID, list.Snapshots[1].ID
	manifest := filepath.Join(env[envRepository], "snapshots", stuck)
	if out, err := exec.Command("chattr", "+i", manifest).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", manifest).Run() }) // before TempDir removes it
	for _, asJSON := range []bool{false, true} {
		args := []string{"forget", stuck, other}
		if asJSON {
			args = append(args, "--json")
		}
		code, out, errb := runApp(t, env, args...)
		if code != exitFailure || !strings.Contains(errb, stuck[:8]) {
			t.Errorf("json %v: exit %d, stderr %q; want %d naming %s", asJSON, code, errb, exitFailure, stuck[:8])
		}
		want := 1 // the first run removes other
		if asJSON {
			want = 0
		}
		if !asJSON && !strings.Contains(out, "removed 1 snapshot\n") {
			t.Errorf("text: stdout %q does not say 1 was removed", out)
		}
		if asJSON {
			var sum struct {
				Removed int
				Error   string
			}
			if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.Removed != want || !strings.Contains(sum.Error, stuck[:8]) {
				t.Errorf("json: %q (%v); want removed %d and the error", out, err, want)
			}
		}
	}
}
