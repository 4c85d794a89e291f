//go:build unix

package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// unfilledTree captures a tree of many files with data, one of them with
// three names (hard links), and two empty ones, and returns the WIM's
// reader and image.
func unfilledTree(t *testing.T) (*wim.Reader, *wim.Metadata, string) {
	t.Helper()
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	files := map[string]string{"empty-a": "", "sub/empty-b": ""}
	for i := range 60 {
		files[fmt.Sprintf("sub/f%02d.bin", i)] = string(wimtest.RandomBytes(uint64(i), 64<<10))
	}
	writeFiles(t, src, files)
	for _, l := range []string{"sub/f11-b.bin", "sub/f11-c.bin"} {
		must(t, os.Link(filepath.Join(src, "sub/f11.bin"), filepath.Join(src, l)))
	}
	path := filepath.Join(tmp, "x.wim")
	captureWIM(t, src, path, CaptureOptions{})
	r, m := openWIM(t, path)
	return r, m, src
}

// emptyButFull lists the files below dir that are empty while the image
// gives them data.
func emptyButFull(t *testing.T, dir string) []string {
	t.Helper()
	var bad []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err == nil && fi.Size() == 0 && !strings.HasPrefix(d.Name(), "empty-") {
			bad = append(bad, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return bad
}

// TestApplyFullDiskRemovesUnfilled: an apply that a full disk stops
// removes the files it had created and not yet written, says so, and
// when run again after space is made gives the whole tree.
func TestApplyFullDiskRemovesUnfilled(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	r, m, src := unfilledTree(t)
	target := filepath.Join(t.TempDir(), "target")
	must(t, os.Mkdir(target, 0o755))
	if err := unix.Mount("wimsnap-apply", target, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(target, unix.MNT_DETACH) })
	_, err := Apply(t.Context(), m, r, target, ApplyOptions{Warn: func(p string, err error) { t.Logf("warning %s: %v", p, err) }})
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "not yet written removed") {
		t.Fatalf("apply onto a full disk: %v, want ENOSPC and the files removed", err)
	}
	if bad := emptyButFull(t, target); len(bad) > 0 {
		t.Errorf("empty files left for data not written: %q", bad)
	}
	must(t, unix.Mount("wimsnap-apply", target, "tmpfs", unix.MS_REMOUNT, "size=16m"))
	applyOK(t, m, r, target, ApplyOptions{})
	wimtest.CompareTrees(t, src, target, wimtest.CompareOptions{})
}

// TestApplyNoInodesEnds: an apply onto a file system out of inodes (with
// bytes to spare) ends at the first entry it cannot create, as one out of
// bytes does, where it warned of every entry left and exited "partial";
// run again once there are inodes, it gives the whole tree.
func TestApplyNoInodesEnds(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	r, m, src := unfilledTree(t)
	target := filepath.Join(t.TempDir(), "target")
	must(t, os.Mkdir(target, 0o755))
	if err := unix.Mount("wimsnap-apply", target, "tmpfs", 0, "size=16m,nr_inodes=20"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(target, unix.MNT_DETACH) })
	var warned atomic.Int32
	_, err := Apply(t.Context(), m, r, target, ApplyOptions{Warn: func(p string, err error) {
		warned.Add(1)
		t.Logf("warning %s: %v", p, err)
	}})
	if !errors.Is(err, syscall.ENOSPC) || warned.Load() > 0 {
		t.Fatalf("apply onto a file system out of inodes: %v, %d warnings; want ENOSPC and none", err, warned.Load())
	}
	if bad := emptyButFull(t, target); len(bad) > 0 {
		t.Errorf("empty files left for data not written: %q", bad)
	}
	must(t, unix.Mount("wimsnap-apply", target, "tmpfs", unix.MS_REMOUNT, "size=16m,nr_inodes=1000"))
	applyOK(t, m, r, target, ApplyOptions{})
	wimtest.CompareTrees(t, src, target, wimtest.CompareOptions{})
}

// cancellingSource cancels the apply as it opens its nth stream.
type cancellingSource struct {
	StreamSource
	n      int
	cancel func()
}

func (c *cancellingSource) OpenStream(h wim.Hash) (io.ReadCloser, error) {
	if c.n--; c.n == 0 {
		c.cancel()
	}
	return c.StreamSource.OpenStream(h)
}

// TestApplyCancelRemovesUnfilled: an apply interrupted half way, with
// files created ahead of the worker, leaves no empty file where the image
// has data, and counts only the files it left in the target (it counted
// the removed ones too).
func TestApplyCancelRemovesUnfilled(t *testing.T) {
	r, m, srcDir := unfilledTree(t)
	target := filepath.Join(t.TempDir(), "target")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	src := &cancellingSource{StreamSource: r, n: 10, cancel: cancel}
	st, err := Apply(ctx, m, src, target, ApplyOptions{Workers: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("apply: %v, want it cancelled", err)
	}
	var files int64
	must(t, filepath.WalkDir(target, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files++
		}
		return err
	}))
	if st.Files != files {
		t.Errorf("apply counts %d files, the target holds %d", st.Files, files)
	}
	if bad := emptyButFull(t, target); len(bad) > 0 {
		t.Errorf("empty files left for data not written: %q", bad)
	}
	// The files written before the interrupt stay, whole.
	kept, _ := filepath.Glob(filepath.Join(target, "sub", "f*.bin"))
	for _, p := range kept {
		got, err1 := os.ReadFile(p)
		want, err2 := os.ReadFile(filepath.Join(srcDir, "sub", filepath.Base(p)))
		if err := errors.Join(err1, err2); err != nil || string(got) != string(want) {
			t.Errorf("%s: not the image's contents (%v)", p, err)
		}
	}
	if len(kept) == 0 {
		t.Error("no file written before the interrupt was kept")
	}
}

// TestUnwiden: a directory an unprivileged apply opened to itself gets the
// mode it had back when the walk leaves it early (unwiden), and keeps the
// widened mode while the walk is in it.
func TestUnwiden(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	must(t, os.Mkdir(dir, 0o755))
	must(t, os.Chmod(dir, 0o555))
	fd, err := openDir(unix.AT_FDCWD, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFD(fd)
	a := &applier{isRoot: false} // the owner of dir, as an unprivileged apply is
	mode := func() os.FileMode {
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	a.widen(fd)
	if got := mode(); got != 0o755 {
		t.Fatalf("widened: %o, want 755", got)
	}
	a.unwiden(fd)
	if got := mode(); got != 0o555 || len(a.widened) != 0 {
		t.Errorf("after unwiden: %o (%d left), want 555", got, len(a.widened))
	}
}

// TestApplyCloseFails: a file whose close fails (a network file system
// reporting writes it could not store) is removed and warned about, not
// left with the image's size and times for a rollback to keep as
// restored; the rollback then writes it. It stayed, and the rollback
// left it in place.
func TestApplyCloseFails(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("names an open file through /proc/self/fd")
	}
	r, m, src := unfilledTree(t)
	target := filepath.Join(t.TempDir(), "target")
	defer func(c func(int) error) { closeFile = c }(closeFile)
	closeFile = func(fd int) error {
		name, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		err := unix.Close(fd)
		if err == nil && filepath.Base(name) == "f05.bin" {
			err = unix.EIO
		}
		return err
	}
	var warned []string
	st, err := Apply(t.Context(), m, r, target, ApplyOptions{Warn: func(p string, err error) {
		warned = append(warned, fmt.Sprintf("%s: %v", p, err))
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(target, "sub/f05.bin")); !errors.Is(err, fs.ErrNotExist) || st.Skipped != 1 ||
		len(warned) != 1 || !strings.Contains(warned[0], "f05.bin") {
		t.Fatalf("f05.bin: %v, %d skipped, warnings %q; want it removed, skipped and warned about", err, st.Skipped, warned)
	}
	closeFile = unix.Close
	again := applyOK(t, m, r, target, ApplyOptions{InPlace: true})
	if again.Files-again.Unchanged != 1 {
		t.Errorf("rollback: %+v; want the one file written", again)
	}
	wimtest.CompareTrees(t, src, target, wimtest.CompareOptions{IgnoreRoot: true})
}

// TestRollbackSyncs: a rollback that changed the tree flushes its file
// system before it reports success (also when it set no more than a
// directory's mode), and fails when that fails; a new tree and a rollback
// that changed nothing are not flushed.
func TestRollbackSyncs(t *testing.T) {
	r, m, _ := unfilledTree(t)
	target := filepath.Join(t.TempDir(), "target")
	defer func(s func(int) error) { syncFS = s }(syncFS)
	var syncs int
	var fail error
	syncFS = func(int) error {
		syncs++
		return fail
	}
	applyOK(t, m, r, target, ApplyOptions{InPlace: true})
	applyOK(t, m, r, target, ApplyOptions{InPlace: true})
	if syncs != 0 {
		t.Errorf("%d flushes after a new tree and an unchanged rollback, want 0", syncs)
	}
	must(t, os.WriteFile(filepath.Join(target, "sub/f03.bin"), []byte("changed"), 0o644))
	applyOK(t, m, r, target, ApplyOptions{InPlace: true})
	if syncs != 1 {
		t.Errorf("%d flushes after a rollback that wrote a file, want 1", syncs)
	}
	must(t, os.WriteFile(filepath.Join(target, "sub/f03.bin"), []byte("changed"), 0o644))
	fail = unix.EIO
	if _, err := Apply(t.Context(), m, r, target, ApplyOptions{InPlace: true}); !errors.Is(err, unix.EIO) {
		t.Errorf("rollback whose flush failed: %v, want EIO", err)
	}
	// A directory's mode alone, which no count shows, was not flushed.
	fail, syncs = nil, 0
	must(t, os.Chmod(filepath.Join(target, "sub"), 0o700))
	applyOK(t, m, r, target, ApplyOptions{InPlace: true})
	if syncs != 1 {
		t.Errorf("%d flushes after a rollback that set a directory's mode, want 1", syncs)
	}
}
