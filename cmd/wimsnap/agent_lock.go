package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// errStateInUse means that another agent runs with the same state file.
var errStateInUse = errors.New("agent state in use")

// agentLock is held by a running agent on the lock file beside its state
// file (the state file's path plus ".lock"), so that a second agent with
// the same state file refuses to start instead of taking the same
// snapshots and overwriting the first one's state. It is an OS lock on an
// open file (flock on unix, LockFileEx on Windows; none elsewhere), which
// the system drops when the process ends however it ends: a killed agent
// leaves the file, with its pid, but no lock. The file is never removed,
// as removing it would let two agents lock two different files.
type agentLock struct{ f *os.File }

// lockAgentState takes the agent lock of the state file statePath (of the
// file a symbolic link leads to), without waiting, and records the pid of
// this process in the lock file. When another process holds it, the error
// wraps errStateInUse and names the state file and that process's pid.
func lockAgentState(statePath string) (*agentLock, error) {
	path, err := outputPath(statePath)
	if err != nil {
		return nil, fmt.Errorf("agent state: %w", err)
	}
	path += ".lock"
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("agent state: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("agent state: %w", err)
	}
	locked, err := tryLockFile(f)
	if err == nil && !locked {
		err = stateInUse(statePath, f)
	}
	if err == nil {
		err = writePID(f)
	}
	if err != nil {
		_ = f.Close() // not locked by us, or the error is reported
		if !errors.Is(err, errStateInUse) {
			err = fmt.Errorf("agent state: lock %s: %w", path, err)
		}
		return nil, err
	}
	return &agentLock{f: f}, nil
}

// stateInUse is the error for a state file whose lock file f another
// process holds: it names that process by the pid the file records.
func stateInUse(statePath string, f *os.File) error {
	who := "another agent"
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0) // a short or failed read leaves the holder unnamed
	if pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:n]))); err == nil && pid > 0 {
		who = fmt.Sprintf("another agent (pid %d)", pid)
	}
	return fmt.Errorf("%w: %s is used by %s; stop that agent, or give this one another state-file in its config",
		errStateInUse, statePath, who)
}

// writePID replaces the contents of the held lock file f with this
// process's pid.
func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// release drops the lock. The agent holds it until it exits.
func (l *agentLock) release() error { return l.f.Close() }
