package main

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestExitCodeDocs: the exit code tables of README.md and
// README-commands.md list the codes the command line uses, and both put an
// IMAGE the WIM does not hold under 2, the usage error selectImage returns
// (as --help's table does), not under 1.
func TestExitCodeDocs(t *testing.T) {
	codes := []int{exitOK, exitFailure, exitUsage, exitPartial, exitNoRepo, exitLocked, exitRemote, exitInterrupted}
	for _, file := range []string{"../../README.md", "README-commands.md"} {
		rows := exitCodeRows(t, file)
		var got []int
		for code := range rows {
			got = append(got, code)
		}
		slices.Sort(got)
		if !slices.Equal(got, codes) {
			t.Errorf("%s: exit codes %v, want %v", file, got, codes)
		}
		for code, text := range rows {
			if mentionsImage(text) != (code == exitUsage) {
				t.Errorf("%s: code %d: %q; an IMAGE the WIM does not hold is exit %d only", file, code, text, exitUsage)
			}
			if mentionsSnap(text) != (code == exitFailure) {
				t.Errorf("%s: code %d: %q; a SNAP the repository does not hold is exit %d only", file, code, text, exitFailure)
			}
		}
	}
	for name, text := range map[string]string{"exitCodesHelp": exitCodesHelp, "exitCodesWIMHelp": exitCodesWIMHelp} {
		if !mentionsImage(text) {
			t.Errorf("%s does not mention an IMAGE the WIM does not hold", name)
		}
	}
	if !mentionsSnap(exitCodesHelp) {
		t.Errorf("exitCodesHelp does not mention a SNAP the repository does not hold")
	}
	// A name that does not resolve is a remote error (exit 12), which
	// each of the three texts says.
	texts := []string{exitCodesHelp}
	for _, file := range []string{"../../README.md", "README-commands.md"} {
		texts = append(texts, exitCodeRows(t, file)[exitRemote])
	}
	for i, text := range texts {
		if !strings.Contains(strings.Join(strings.Fields(text), " "), "host name does not resolve") {
			t.Errorf("exit code text %d of 3 (help, README.md, README-commands.md) leaves out a host name that does not resolve", i+1)
		}
	}
}

// exitCodeRows returns the rows "| N | text |" of file's exit code table.
func exitCodeRows(t *testing.T, file string) map[int]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^\| (\d+) \| (.*) \|$`)
	rows := map[int]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		code, _ := strconv.Atoi(m[1])
		rows[code] = m[2]
	}
	return rows
}

// mentionsImage reports whether an exit code's text covers an image the
// WIM does not hold.
func mentionsImage(text string) bool {
	text = strings.ToLower(strings.Join(strings.Fields(text), " "))
	return strings.Contains(text, "no such image") || strings.Contains(text, "image the wim does not hold")
}

// mentionsSnap reports whether an exit code's text covers a SNAP the
// repository does not hold (ls, diff, restore, export; exit 1, which
// TestJSONOutcome checks).
func mentionsSnap(text string) bool {
	return strings.Contains(strings.Join(strings.Fields(text), " "), "SNAP the repository does not hold")
}

// TestExitCodesPerCommand: the help of a command on WIM files lists no
// repository exit code (10 to 12) nor repository case of the others,
// which it cannot return; that of a repository command lists them.
func TestExitCodesPerCommand(t *testing.T) {
	wimOnly := map[string]bool{"append": true, "apply": true, "capture": true, "delete": true, "dir": true,
		"export-image": true, "extract": true, "info": true, "optimize": true, "split": true, "verify": true}
	for _, cmd := range (&app{}).newRootCommand().Commands() {
		if !strings.Contains(cmd.Long, "Exit codes:") || cmd.Name() == "agent" { // the agent has its own
			continue
		}
		repoCodes := strings.Contains(cmd.Long, "\n  10   ") || strings.Contains(cmd.Long, "SNAP the repository")
		if repoCodes == wimOnly[cmd.Name()] {
			t.Errorf("%s: lists the repository's exit codes or cases: %v, want %v", cmd.Name(), repoCodes, !wimOnly[cmd.Name()])
		}
	}
}
