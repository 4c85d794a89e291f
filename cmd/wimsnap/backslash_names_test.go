//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackslashNames: a file whose name holds a '\' (a Linux name may) is
// reached by ls and extract with the path they print, "/back\slash"; a
// '\' stood only for '/' there, so ls printed a path it could not find.
// A Windows-style path, `\win\sys`, still names /win/sys where the image
// has no entry whose name holds the '\'.
func TestBackslashNames(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache"), "HOME": dir}
	runAppOK(t, env, "init")
	src := filepath.Join(dir, "src")
	writeFile(t, src, `back\slash`, []byte("b"))
	writeFile(t, filepath.Join(src, "win", "sys"), "f", []byte("f"))
	runAppOK(t, env, "snapshot", src)
	for arg, want := range map[string]string{`/back\slash`: `/back\slash`, `back\slash`: `/back\slash`, `\win\sys`: "/win/sys\n/win/sys/f"} {
		if out := runAppOK(t, env, "ls", "latest", arg); strings.TrimSpace(out) != want {
			t.Errorf("ls latest %s: %q, want %q", arg, out, want)
		}
	}
	wimfile, dest := filepath.Join(dir, "e.wim"), filepath.Join(dir, "dest")
	runAppOK(t, env, "export", "latest", wimfile)
	runAppOK(t, env, "extract", wimfile, "1", `/back\slash`, `\win\sys`, "--dest-dir", dest)
	for _, name := range []string{`back\slash`, "sys/f"} {
		if _, err := os.Lstat(filepath.Join(dest, name)); err != nil {
			t.Errorf("extract: %v", err)
		}
	}
}

// TestLsQuotedPath: ls takes a path in the quoted form it prints for a
// name it must escape ("/tab\tname", "/bad\xe9"), as its help says; it
// found no such path, and its message showed the argument garbled.
func TestLsQuotedPath(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache"), "HOME": dir}
	runAppOK(t, env, "init")
	src := filepath.Join(dir, "src")
	writeFile(t, src, "tab\tname", []byte("t"))
	writeFile(t, src, "bad\xe9", []byte("b"))
	runAppOK(t, env, "snapshot", src)
	for _, printed := range []string{`"/tab\tname"`, `"/bad\xe9"`} {
		if !strings.Contains(runAppOK(t, env, "ls", "latest"), printed+"\n") {
			t.Fatalf("ls does not print %s", printed)
		}
		if out := runAppOK(t, env, "ls", "latest", printed); out != printed+"\n" {
			t.Errorf("ls latest %s: %q", printed, out)
		}
	}
	if code, _, errb := runApp(t, env, "ls", "latest", `"/nope\t"`); code != exitFailure || !strings.Contains(errb, `"/nope\t"`) {
		t.Errorf("ls of a path not there: exit %d, %q; want the path as given", code, errb)
	}
}
