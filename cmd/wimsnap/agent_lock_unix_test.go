//go:build unix

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAgentOneStateFile: a second agent with the same state file (the
// same config) refuses to start, naming the state file and the running
// agent, and leaves the state file alone; once the first is killed
// (SIGKILL: no clean-up), its lock does not block a new agent.
func TestAgentOneStateFile(t *testing.T) {
	bin, r, dir, src := agentSetup(t)
	cfg := writeConfig(t, dir, fmt.Sprintf(`repository = %q
state-file = "state.json"
[status]
listen = "127.0.0.1:0"

[[job]]
name = "j"
sources = [%q]
schedule = "@every 6h"
`, r.repo, src))
	state := filepath.Join(dir, "state.json")
	first := startAgent(t, bin, r.env, cfg)
	pid := first.cmd.Process.Pid
	before, err := os.ReadFile(state)
	must(t, err)

	res := runAgentBriefly(t, bin, r.env, cfg)
	if res.code != exitFailure || !strings.Contains(res.stderr, state) || !strings.Contains(res.stderr, fmt.Sprintf("pid %d", pid)) {
		t.Errorf("second agent: exit %d, stderr %q; want %d naming %s and pid %d", res.code, res.stderr, exitFailure, state, pid)
	}
	if after, err := os.ReadFile(state); err != nil || string(after) != string(before) {
		t.Errorf("the second agent changed the state file (%v):\n%s\nwas\n%s", err, after, before)
	}

	must(t, first.cmd.Process.Signal(syscall.SIGKILL))
	<-first.done // killed: its exit status is the signal
	third := startAgent(t, bin, r.env, cfg)
	var st agentState
	b, err := os.ReadFile(state)
	must(t, err)
	must(t, json.Unmarshal(b, &st))
	if st.PID != third.cmd.Process.Pid {
		t.Errorf("state file pid %d, want the new agent's %d", st.PID, third.cmd.Process.Pid)
	}
	if code, _ := third.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("agent exit %d", code)
	}
}

// runAgentBriefly runs `wimsnap agent --config config`, which should exit
// at once, and kills it if it still runs after 20 s.
func runAgentBriefly(t *testing.T, bin string, env []string, config string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "agent", "--config", config)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var errb strings.Builder
	cmd.Stderr = &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if ctx.Err() != nil || !errors.As(err, &ee) {
		t.Fatalf("the agent did not exit with an error: %v; ran %v\n%s", err, ctx.Err(), errb.String())
	}
	return result{code: ee.ExitCode(), stderr: errb.String()}
}
