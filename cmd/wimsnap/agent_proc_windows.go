//go:build windows

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
)

// This file is how the agent runs hooks on Windows, and where its config
// lives there.

// defaultAgentConfig is the config file of 'agent' without --config:
// %ProgramData%\wimsnap\agent.toml.
var defaultAgentConfig = filepath.Join(programData(), "wimsnap", "agent.toml")

func programData() string {
	if d := os.Getenv("ProgramData"); d != "" {
		return d
	}
	return `C:\ProgramData`
}

// comSpec is the command interpreter: %ComSpec%, else cmd.exe.
func comSpec() string {
	if c := os.Getenv("ComSpec"); c != "" {
		return c
	}
	return "cmd.exe"
}

// shellCommand is the command line that runs a hook given as a string:
// cmd.exe /S /C with the string as the rest of its command line, as typed
// at a prompt (setProcessGroup keeps Go from quoting it).
func shellCommand(s string) []string { return []string{comSpec(), "/S", "/C", s} }

// setProcessGroup starts cmd in a new process group, so that the agent's
// console Ctrl+C does not reach the hook (the agent stops it itself). A
// shellCommand line is passed to cmd.exe unquoted: /S strips the one pair
// of quotes around it.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
	if a := cmd.Args; len(a) == 4 && a[0] == comSpec() && a[1] == "/S" && a[2] == "/C" {
		cmd.SysProcAttr.CmdLine = syscall.EscapeArg(a[0]) + ` /S /C "` + a[3] + `"`
	}
}

// stopProcessGroup ends the hook and every process it started (taskkill
// /T /F); if that fails, the hook's own process is killed.
func stopProcessGroup(cmd *exec.Cmd) error {
	if exec.Command("taskkill", "/T", "/F", "/PID", strconv.Itoa(cmd.Process.Pid)).Run() == nil {
		return nil
	}
	return cmd.Process.Kill()
}
