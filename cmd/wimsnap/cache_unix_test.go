//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnusableCacheInsideTree: the temporary index of a command whose
// cache cannot be written lies in $TMPDIR, which a snapshot of / holds;
// the snapshot leaves it out, as it does the usual cache.
func TestUnusableCacheInsideTree(t *testing.T) {
	tree := filepath.Join(t.TempDir(), "tree")
	tmpdir := filepath.Join(tree, "tmp")
	if err := os.MkdirAll(tmpdir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmpdir)
	writeFile(t, tree, "f", []byte("data"))
	block := filepath.Join(tree, "file")
	writeFile(t, tree, "file", []byte("x"))
	env := map[string]string{envCacheDir: filepath.Join(block, "index"), envRepository: filepath.Join(t.TempDir(), "repo")}
	for _, args := range [][]string{{"init"}, {"snapshot", tree}} {
		if code, out, errb := runApp(t, env, args...); code != exitOK {
			t.Fatalf("%s: exit %d: %s%s", args[0], code, out, errb)
		}
	}
	code, out, errb := runApp(t, env, "ls", "latest", "/tmp")
	if code != exitOK {
		t.Fatalf("ls: exit %d: %s", code, errb)
	}
	if strings.Contains(out, "wimsnap-index") {
		t.Errorf("the snapshot holds the temporary index:\n%s", out)
	}
}
