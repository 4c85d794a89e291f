package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestWIMFromStdinRefused: "-" as WIMFILE, wimlib-imagex's standard input,
// is refused as an unsupported feature (exit 1) that says so, not reported
// as a file "-" that is missing.
func TestWIMFromStdinRefused(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"apply", "-", filepath.Join(dir, "t")},
		{"info", "-"},
		{"dir", "-"},
		{"verify", "-"},
	} {
		t.Run(args[0], func(t *testing.T) {
			code, _, errb := runApp(t, nil, args...)
			if code != exitFailure || !strings.Contains(errb, "unsupported feature: reading a WIM from standard input") {
				t.Errorf("exit %d, stderr %q; want exit %d saying standard input is not read", code, errb, exitFailure)
			}
		})
	}
}
