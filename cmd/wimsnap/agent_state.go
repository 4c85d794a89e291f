package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// agentStateVersion is the version of the state file's format.
const agentStateVersion = 1

// agentState is the agent's state file: what it must remember across
// restarts (when each task last ran, to catch up a missed run once) and
// what its status page shows after one. It is a cache of the agent's own
// making: a missing or unreadable file costs at most one catch-up run.
type agentState struct {
	Version int                   `json:"version"`
	Listen  string                `json:"listen,omitempty"` // the status address actually bound
	PID     int                   `json:"pid,omitempty"`
	Tasks   map[string]*taskState `json:"tasks"`
}

// taskState is the remembered part of a task's status.
type taskState struct {
	LastRun time.Time `json:"last_run,omitzero"`
	// Running is set while a run goes: found set at a start, it tells of
	// a run the agent never saw end.
	Running         bool      `json:"running,omitempty"`
	LastSuccess     time.Time `json:"last_success,omitzero"`
	LastResult      string    `json:"last_result,omitempty"`
	LastError       string    `json:"last_error,omitempty"`
	LastDurationSec float64   `json:"last_duration_seconds,omitempty"`
	LastSnapshots   []string  `json:"last_snapshots,omitempty"`
	// Part is the part of the packs the last successful check with
	// read-data-parts read (1 to read-data-parts).
	Part int `json:"read_data_part,omitempty"`
}

// defaultStatePath is the state file when the config names none.
func (a *app) defaultStatePath() (string, error) {
	dir, err := a.userDir("XDG_STATE_HOME", ".local/state", "the default state file (or set state-file in the config)")
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "wimsnap", "agent.json"), nil
}

// readAgentState reads the state file at path. A missing file is an
// empty state; a damaged one is an empty state and an error to log.
func readAgentState(path string) (*agentState, error) {
	st := &agentState{Version: agentStateVersion, Tasks: map[string]*taskState{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("agent state: %w", err)
	}
	var got agentState
	if err := json.Unmarshal(b, &got); err != nil || got.Version != agentStateVersion {
		return st, fmt.Errorf("agent state %s is damaged or of another version; starting afresh", path)
	}
	if got.Tasks == nil {
		got.Tasks = map[string]*taskState{}
	}
	return &got, nil
}

// markUnfinished records, for each task whose last run began and never
// ended (the agent was killed or the machine stopped: finish did not run),
// that run's result as unfinished, so that the result and error of the
// run before it are not shown as its own. It reports whether it changed
// anything.
func (st *agentState) markUnfinished() bool {
	changed := false
	for _, ts := range st.Tasks {
		if !ts.Running {
			continue
		}
		ts.Running = false
		ts.LastResult = resultUnfinished
		ts.LastError = "the run did not end: the agent was killed or the machine stopped during it"
		ts.LastDurationSec = 0
		changed = true
	}
	return changed
}

// write replaces the state file at path atomically: a crash leaves the
// old file or the new one, never a mix. A symlink's target is replaced;
// a device, pipe or socket is refused (see outputPath).
func (st *agentState) write(path string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if path, err = outputPath(path); err != nil {
		return fmt.Errorf("agent state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("agent state: %w", err)
	}
	tmp, err := createTemp(path)
	if err != nil {
		return fmt.Errorf("agent state: %w", err)
	}
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(append(b, '\n'))
	}
	if err == nil {
		err = commitTemp(tmp, path)
	}
	if err != nil {
		discardTemp(tmp)
		return fmt.Errorf("agent state: %w", err)
	}
	return nil
}
