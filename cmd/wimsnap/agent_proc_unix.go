//go:build unix

package main

import (
	"os/exec"
	"syscall"
	"time"
)

// defaultAgentConfig is the config file of 'agent' without --config.
const defaultAgentConfig = "/etc/wimsnap/agent.toml"

// shellCommand is the command line that runs a hook given as a string.
func shellCommand(s string) []string { return []string{"/bin/sh", "-c", s} }

// setProcessGroup makes cmd the leader of a new process group, so that a
// hook's children are stopped with it.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// stopProcessGroup sends SIGTERM to cmd's process group and SIGKILL
// hookKillWait later if its leader has not exited by then.
func stopProcessGroup(cmd *exec.Cmd) error {
	pgid := cmd.Process.Pid
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil {
		return err
	}
	go func() {
		time.Sleep(hookKillWait)
		_ = syscall.Kill(-pgid, syscall.SIGKILL) // the group may be gone: nothing to do
	}()
	return nil
}
