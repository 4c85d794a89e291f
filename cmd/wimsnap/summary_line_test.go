//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSummaryOneLine: the summary line of capture, apply, restore, export
// and import quotes a file name it prints (printable), as the listings do,
// so that a newline in a target or WIM name cannot forge another line.
func TestSummaryOneLine(t *testing.T) {
	dir, src, _, env := oneFileRepo(t)
	odd := func(name string) string { return filepath.Join(dir, name+"\nforged") }
	for _, args := range [][]string{
		{"capture", src, odd("c.wim")},
		{"apply", odd("c.wim"), odd("applied")},
		{"restore", "latest", "--target", odd("restored")},
		{"export", "latest", odd("e.wim")},
		{"import", odd("c.wim")},
	} {
		out := runAppOK(t, env, args...)
		if strings.Count(out, "\n") != 1 || !strings.Contains(out, `\nforged`) {
			t.Errorf("%s prints %q; want one line with the name quoted", args[0], out)
		}
	}
}
