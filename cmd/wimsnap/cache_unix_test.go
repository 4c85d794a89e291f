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

// TestUnusableCacheExec: the temporary index is removed by exec itself, as
// the agent runs its commands, not only by run: an agent whose cache
// cannot be written left one in $TMPDIR for every command.
func TestUnusableCacheExec(t *testing.T) {
	dir := t.TempDir()
	tmpdir := filepath.Join(dir, "tmp")
	must(t, os.MkdirAll(tmpdir, 0o700))
	t.Setenv("TMPDIR", tmpdir)
	writeFile(t, dir, "file", []byte("x"))
	env := map[string]string{envCacheDir: filepath.Join(dir, "file", "index"), envRepository: filepath.Join(dir, "repo")}
	for _, args := range [][]string{{"init"}, {"snapshot", filepath.Join(dir, "tmp")}, {"snapshots"}} {
		a, _, errb := testApp(env)
		if _, code, err := a.exec(t.Context(), args); code != exitOK {
			t.Fatalf("%s: exit %d, %v: %s", args[0], code, err, errb)
		}
		if left, _ := os.ReadDir(tmpdir); len(left) != 0 {
			t.Fatalf("%s left %s in TMPDIR", args[0], left[0].Name())
		}
	}
}
