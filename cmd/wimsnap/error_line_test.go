//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestErrorOneLine: an error that holds a name as given (a path ls does
// not find, a source that is not there) is one line on stderr, its
// newline, escape character and byte that is not UTF-8 escaped, so that a
// name cannot forge a line or spoof the terminal.
func TestErrorOneLine(t *testing.T) {
	dir, _, _, env := oneFileRepo(t)
	odd := "a\nwimsnap: forged\x1b[31m\xe9"
	for _, args := range [][]string{
		{"ls", "latest", "/" + odd},
		{"snapshot", filepath.Join(dir, odd)},
	} {
		code, _, stderr := runApp(t, env, args...)
		if code == 0 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, `a\nwimsnap: forged\x1b[31m\xe9`) {
			t.Errorf("%s: exit %d, stderr %q; want one line with the name escaped", args[0], code, stderr)
		}
	}
}
