package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestHelpExamples: every line of a command's Examples runs that command
// with flags it has and arguments it takes, as far as parsing tells.
func TestHelpExamples(t *testing.T) {
	n := 0
	for _, cmd := range (&app{}).newRootCommand().Commands() {
		if cmd.Example == "" {
			continue
		}
		for line := range strings.SplitSeq(cmd.Example, "\n") {
			n++
			args := exampleArgs(line)
			if len(args) < 2 || args[0] != "wimsnap" || args[1] != cmd.Name() {
				t.Errorf("%s: example %q does not run wimsnap %s", cmd.Name(), line, cmd.Name())
				continue
			}
			checkExample(t, cmd, line, args[2:])
		}
	}
	if n < 10 {
		t.Errorf("%d example lines, want some for the main commands", n)
	}
}

// checkExample parses args as cmd would and checks its argument count.
func checkExample(t *testing.T, cmd *cobra.Command, line string, args []string) {
	t.Helper()
	fs := cmd.Flags()
	fs.AddFlagSet(cmd.InheritedFlags())
	if err := fs.Parse(args); err != nil {
		t.Errorf("%s: example %q: %v", cmd.Name(), line, err)
		return
	}
	if cmd.Args != nil {
		if err := cmd.Args(cmd, fs.Args()); err != nil {
			t.Errorf("%s: example %q: %v", cmd.Name(), line, err)
		}
	}
}

// exampleArgs splits an example line as a shell would, for the forms the
// examples use: an environment assignment first, double quotes, and a
// comment after '#'.
func exampleArgs(line string) []string {
	var args []string
	var cur strings.Builder
	quoted, in := false, false
	for _, r := range strings.TrimSpace(line) {
		switch {
		case r == '"':
			quoted, in = !quoted, true
		case r == '#' && !quoted && !in:
			return dropAssignment(args)
		case r == ' ' && !quoted:
			if in {
				args = append(args, cur.String())
				cur.Reset()
			}
			in = false
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		args = append(args, cur.String())
	}
	return dropAssignment(args)
}

// dropAssignment drops a leading NAME=value.
func dropAssignment(args []string) []string {
	if len(args) > 0 && strings.Contains(args[0], "=") && !strings.HasPrefix(args[0], "-") {
		return args[1:]
	}
	return args
}
