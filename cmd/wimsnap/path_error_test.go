//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestPathNotInImageMessage: a path the image or snapshot lacks is
// reported as "wimsnap: path not in image: ...", naming the path (the
// sentinel's text, shown without its package prefix), with exit 1.
func TestPathNotInImageMessage(t *testing.T) {
	env := testRepoEnv(t)
	wimPath := filepath.Join(t.TempDir(), "x.wim")
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, src, "a.txt", []byte("a"))
	runAppOK(t, env, "capture", src, wimPath)
	tests := []struct {
		name string
		args []string
	}{
		{name: "extract", args: []string{"extract", wimPath, "1", "/nope", "--dest-dir", t.TempDir()}},
		{name: "ls", args: []string{"ls", "latest", "/nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errb := runApp(t, env, tt.args...)
			if code != exitFailure || !strings.HasPrefix(errb, "wimsnap: path not in image: ") ||
				!strings.Contains(errb, "/nope") || strings.Contains(errb, "wimsnap: snapshot: ") {
				t.Errorf("exit %d, stderr %q; want exit 1 and \"wimsnap: path not in image: ...\" naming /nope", code, errb)
			}
		})
	}
}
