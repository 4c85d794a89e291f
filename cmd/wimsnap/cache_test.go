package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestUnusableCache runs repository commands with an index cache that
// cannot be made (its path goes through a regular file, as a read-only or
// foreign home makes it unwritable): each warns, works on a temporary
// index, and leaves no temporary directory behind.
func TestUnusableCache(t *testing.T) {
	tmp := t.TempDir()
	block := filepath.Join(tmp, "file")
	if err := os.WriteFile(block, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tmpdir := filepath.Join(tmp, "tmpdir")
	if err := os.Mkdir(tmpdir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmpdir)
	src := filepath.Join(tmp, "src")
	if err := os.MkdirAll(filepath.Join(src, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "d", "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(tmp, "repo")
	env := map[string]string{envCacheDir: filepath.Join(block, "index")}
	for _, args := range [][]string{
		{"init", "--repo", repo},
		{"snapshot", "--repo", repo, src},
		{"snapshot", "--repo", repo, src},
		{"snapshots", "--repo", repo, "--json"},
		{"rebuild-index", "--repo", repo, "--json"},
		{"repair", "--repo", repo, "--json"},
		{"restore", "--repo", repo, "latest", "--target", filepath.Join(tmp, "out")},
		{"capture", src, filepath.Join(tmp, "x.wim")},
		{"import", "--repo", repo, filepath.Join(tmp, "x.wim"), "--json"},
	} {
		code, out, errb := runApp(t, env, args...)
		if code != 0 {
			t.Fatalf("wimsnap %s: exit %d: %s%s", strings.Join(args, " "), code, out, errb)
		}
		// With --json, the warning is the document's.
		if said := map[bool]string{false: errb, true: out}[slices.Contains(args, "--json")]; args[0] != "init" && args[0] != "capture" &&
			!strings.Contains(said, "is not usable") {
			t.Errorf("wimsnap %s: no warning about the cache: %q", strings.Join(args, " "), said)
		}
		if left, _ := os.ReadDir(tmpdir); len(left) != 0 {
			t.Fatalf("wimsnap %s left %d entries in TMPDIR, such as %s", strings.Join(args, " "), len(left), left[0].Name())
		}
	}
	if got, err := os.ReadFile(filepath.Join(tmp, "out", "d", "f")); err != nil || string(got) != "data" {
		t.Errorf("restored file: %q, %v", got, err)
	}
}
