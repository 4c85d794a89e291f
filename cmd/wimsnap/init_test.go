//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInitNotEmpty: init refuses a directory holding files that are not
// a repository's (it made a repository among them, exit 0), and still
// takes a new directory, an empty one, and one holding only hidden names
// and what systems put at the root of a disk or share.
func TestInitNotEmpty(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{envCacheDir: filepath.Join(dir, "cache"), "HOME": filepath.Join(dir, "home")}
	docs := filepath.Join(dir, "docs")
	must(t, os.Mkdir(docs, 0o755))
	must(t, os.WriteFile(filepath.Join(docs, "notes.txt"), []byte("mine\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(docs, "todo.txt"), []byte("mine\n"), 0o644))
	code, _, errb := runApp(t, env, "init", "--repo", docs)
	if code != exitFailure || !strings.Contains(errb, `holds "notes.txt" and 1 more`) {
		t.Errorf("init into a folder of files: exit %d, want %d naming a file: %s", code, exitFailure, errb)
	}
	if _, err := os.Stat(filepath.Join(docs, "config")); err == nil {
		t.Error("init made a repository among the files")
	}
	hidden := filepath.Join(dir, "hidden") // a USB disk's root, say
	for _, name := range []string{".keep", "lost+found", "System Volume Information", "$RECYCLE.BIN", "#recycle", "@eaDir"} {
		must(t, os.MkdirAll(filepath.Join(hidden, name), 0o755))
	}
	must(t, os.Mkdir(filepath.Join(dir, "empty"), 0o755))
	for _, ok := range []string{filepath.Join(dir, "new"), filepath.Join(dir, "empty"), hidden} {
		runAppOK(t, env, "init", "--repo", ok)
	}
}
