//go:build !unix && !windows

package main

import "os/exec"

// defaultAgentConfig is the config file of 'agent' without --config.
const defaultAgentConfig = "/etc/wimsnap/agent.toml"

// shellCommand is the command line that runs a hook given as a string.
func shellCommand(s string) []string { return []string{"/bin/sh", "-c", s} }

// setProcessGroup does nothing where there are no process groups.
func setProcessGroup(*exec.Cmd) {}

// stopProcessGroup kills the hook's process.
func stopProcessGroup(cmd *exec.Cmd) error { return cmd.Process.Kill() }
