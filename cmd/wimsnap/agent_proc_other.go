//go:build !unix

package main

import "os/exec"

// setProcessGroup does nothing where there are no process groups.
func setProcessGroup(*exec.Cmd) {}

// stopProcessGroup kills the hook's process.
func stopProcessGroup(cmd *exec.Cmd) error { return cmd.Process.Kill() }
