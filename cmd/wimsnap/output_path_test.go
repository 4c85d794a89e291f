//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestOutputThroughSymlink: capture, optimize (in place and --output, to a
// new file and with --force over it) and export write the file a symbolic
// link leads to and keep the link, as writing through the link does (and
// wimlib-imagex does).
func TestOutputThroughSymlink(t *testing.T) {
	env := testRepoEnv(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "f.txt", []byte("through the link"))
	must(t, os.Mkdir(filepath.Join(dir, "real"), 0o755))
	link := filepath.Join(dir, "link.wim")
	must(t, os.Symlink("real/t.wim", link)) // dangling until the capture
	for _, args := range [][]string{
		{"capture", src, link},
		{"optimize", link, "--compress=lzx"},
		{"export", "latest", link},
	} {
		if code, _, errb := runApp(t, env, args...); code != exitOK {
			t.Fatalf("%s: exit %d: %s", args[0], code, errb)
		}
		if to, err := os.Readlink(link); err != nil || to != "real/t.wim" {
			t.Fatalf("%s replaced the link: %q, %v", args[0], to, err)
		}
		if code, _, errb := runApp(t, env, "verify", filepath.Join(dir, "real", "t.wim")); code != exitOK {
			t.Fatalf("after %s, the link's target does not verify: exit %d: %s", args[0], code, errb)
		}
	}
	// --output through a link, to a new file and (--force) over it.
	out := filepath.Join(dir, "out.wim")
	must(t, os.Symlink("real/u.wim", out))
	for _, force := range []string{"--compress=none", "--force"} {
		if code, _, errb := runApp(t, env, "optimize", link, "--output", out, force); code != exitOK {
			t.Fatalf("optimize --output %s: exit %d: %s", force, code, errb)
		}
		if to, err := os.Readlink(out); err != nil || to != "real/u.wim" {
			t.Fatalf("optimize --output %s replaced the link: %q, %v", force, to, err)
		}
		runAppOK(t, env, "verify", filepath.Join(dir, "real", "u.wim"))
	}
}

// TestOutputRefusesSpecialFiles: a named pipe given as the file to write is
// refused and left as it is: renaming a new file over it would destroy it
// (as root, over /dev/null).
func TestOutputRefusesSpecialFiles(t *testing.T) {
	env := testRepoEnv(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "f.txt", []byte("x"))
	wimfile := filepath.Join(dir, "ok.wim")
	if code, _, errb := runApp(t, env, "capture", src, wimfile); code != exitOK {
		t.Fatalf("capture: exit %d: %s", code, errb)
	}
	fifo := filepath.Join(dir, "fifo")
	must(t, syscall.Mkfifo(fifo, 0o644))
	link := filepath.Join(dir, "to-fifo")
	must(t, os.Symlink("fifo", link))
	pr, pw, err := os.Pipe() // as /dev/stdout into a pipe: a link that reads "pipe:[N]"
	must(t, err)
	defer func() { _, _ = pr.Close(), pw.Close() }()
	for _, out := range []string{fifo, link, fmt.Sprintf("/proc/self/fd/%d", pw.Fd())} {
		for _, args := range [][]string{
			{"capture", src, out},
			{"optimize", wimfile, "--output", out},
			{"export", "latest", out},
			{"split", wimfile, out, "1"},
		} {
			code, _, errb := runApp(t, env, args...)
			if code != exitFailure || !strings.Contains(errb, "not a regular file (a named pipe)") {
				t.Errorf("%s to %s: exit %d, %q; want a refusal", args[0], filepath.Base(out), code, errb)
			}
			if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
				t.Fatalf("%s to %s: the pipe is gone: %v %v", args[0], filepath.Base(out), st, err)
			}
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestEmptyOutputPaths: an empty WIMFILE or TARGET is a usage error before
// any work (export exported everything, then failed to rename its
// temporary file to "", exit 1).
func TestEmptyOutputPaths(t *testing.T) {
	env := testRepoEnv(t)
	dir := t.TempDir()
	src, wimfile := filepath.Join(dir, "src"), filepath.Join(dir, "a.wim")
	writeFile(t, src, "f.txt", []byte("x"))
	runAppOK(t, env, "capture", src, wimfile)
	for _, args := range [][]string{{"capture", src, ""}, {"export", "latest", ""}, {"apply", wimfile, "1", ""}} {
		if code, _, errb := runApp(t, env, args...); code != exitUsage || !strings.Contains(errb, "empty") {
			t.Errorf("%s with an empty path: exit %d, want %d: %s", args[0], code, exitUsage, errb)
		}
	}
}
