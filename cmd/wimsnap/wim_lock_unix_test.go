//go:build unix

package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// holdFlock takes the flock wimlib-imagex holds while it appends to path,
// for the rest of the test or until the returned function is called.
func holdFlock(t *testing.T, path string) (release func()) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	release = func() { _ = f.Close() }
	t.Cleanup(release)
	return release
}

// TestAppendLockedWIM: append and optimize refuse a WIM that another
// process is writing (holding the flock wimlib-imagex takes for an
// append) and leave it as it was: two appends at once both exited 0 and
// the later one's header dropped the other's image. Once the lock is
// released, the append goes ahead.
func TestAppendLockedWIM(t *testing.T) {
	tmp := t.TempDir()
	src, wimPath := filepath.Join(tmp, "src"), filepath.Join(tmp, "x.wim")
	writeFile(t, src, "a.txt", []byte("some data"))
	runAppOK(t, nil, "capture", src, wimPath)
	before, err := os.ReadFile(wimPath)
	if err != nil {
		t.Fatal(err)
	}
	release := holdFlock(t, wimPath)
	for _, args := range [][]string{{"append", src, wimPath, "--name=two"}, {"optimize", wimPath, "--compress=lzx"}} {
		code, _, errb := runApp(t, nil, args...)
		if code != exitFailure || !strings.Contains(errb, "x.wim: another process is writing this WIM") {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 and another process is writing", args[0], code, errb)
		}
	}
	if after, err := os.ReadFile(wimPath); err != nil || string(after) != string(before) {
		t.Errorf("the locked WIM changed (%v)", err)
	}
	release()
	runAppOK(t, nil, "append", src, wimPath, "--name=two")
	if n := wimtest.Open(t, wimPath).ImageCount(); n != 2 {
		t.Errorf("%d images after the append, want 2", n)
	}
}

// TestLockWIMReplaced: a WIM renamed over (by an optimize) between its
// open and its lock is refused: what the append would write would be lost
// with the old file.
func TestLockWIMReplaced(t *testing.T) {
	tmp := t.TempDir()
	name := filepath.Join(tmp, "x.wim")
	writeFile(t, tmp, "x.wim", []byte("old"))
	writeFile(t, tmp, "new.wim", []byte("new"))
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer closeRead(f)
	if err := os.Rename(filepath.Join(tmp, "new.wim"), name); err != nil {
		t.Fatal(err)
	}
	if err := lockWIM(f, name); !errors.Is(err, errWIMBusy) {
		t.Errorf("lockWIM of a replaced file: %v, want errWIMBusy", err)
	}
}
