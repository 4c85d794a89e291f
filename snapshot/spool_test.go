//go:build unix

package snapshot

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestSpoolFile: a spool file is anonymous from its creation (a crash
// leaves nothing), and reads back what was written.
func TestSpoolFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	f, err := newSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("the spool directory lists %d files while one is open, want none", len(left))
	}
	data := wimtest.RandomBytes(1, 100000)
	for _, part := range [][]byte{data[:1], data[1:70000], data[70000:]} {
		if _, err := f.Write(part); err != nil {
			t.Fatal(err)
		}
	}
	if f.Size() != int64(len(data)) {
		t.Errorf("size %d, want %d", f.Size(), len(data))
	}
	got := make([]byte, 1000)
	if _, err := f.ReadAt(got, 50000); err != nil || !bytes.Equal(got, data[50000:51000]) {
		t.Errorf("ReadAt: %v, or the wrong bytes", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSweepSpool: spool files older than a day are taken for a crash's
// leftovers and removed; younger ones and other files stay.
func TestSweepSpool(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	old := now.Add(-spoolMaxAge - time.Hour)
	files := map[string]time.Time{spoolPrefix + "old": old, spoolPrefix + "young": now, "other": old}
	for name, mtime := range files {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, []byte("x"), 0o600))
		must(t, os.Chtimes(p, mtime, mtime))
	}
	sweepSpool(dir, now)
	for name := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if gone := errors.Is(err, os.ErrNotExist); gone != (name == spoolPrefix+"old") {
			t.Errorf("%s: removed %v", name, gone)
		}
	}
	sweepSpool(filepath.Join(dir, "missing"), now) // no directory: nothing to do
}

// TestSnapshotSpoolUnusable: a spool directory that cannot be made fails
// the snapshot with a message naming it, and commits nothing.
func TestSnapshotSpoolUnusable(t *testing.T) {
	tmp := t.TempDir()
	store := remote.NewMemory()
	r := openSpoolRepo(t, store, filepath.Join(tmp, "cache"))
	must(t, os.MkdirAll(filepath.Dir(r.spool), 0o700))
	must(t, os.WriteFile(r.spool, nil, 0o600)) // a file where the directory goes
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	_, err := r.Snapshot(t.Context(), src, TakeOptions{Host: "h"})
	if err == nil || !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("snapshot with an unusable spool: %v, want ENOTDIR", err)
	}
	t.Logf("error: %v", err)
	requireNothingCommitted(t, r, store)
	must(t, os.Remove(r.spool))
	snapshotOK(t, r, src, TakeOptions{})
}

// TestSpoolFullDisk: the spool's disk fills up during a snapshot and a
// restore (the temporary directory, where a restore's packs go next, is
// on it too). The snapshot fails for lack of space and commits nothing;
// the restore fails with that error, not as damaged data. Once space is
// free both work. It mounts a small tmpfs for the cache directory (root).
func TestSpoolFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	tmp := t.TempDir()
	cache := filepath.Join(tmp, "cache")
	must(t, os.Mkdir(cache, 0o700))
	if err := unix.Mount("wimsnap-spool", cache, "tmpfs", 0, "size=8m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(cache, unix.MNT_DETACH) })
	t.Setenv("TMPDIR", cache)
	store := remote.NewMemory()
	r := openSpoolRepo(t, store, cache)
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	writeTestFile(t, filepath.Join(src, "big.bin"), wimtest.RandomBytes(3, 12<<20))

	_, err := r.Snapshot(t.Context(), src, TakeOptions{Host: "h"})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("snapshot onto a full spool: %v, want ENOSPC", err)
	}
	t.Logf("snapshot error: %v", err)
	requireNothingCommitted(t, r, store)

	must(t, unix.Mount("wimsnap-spool", cache, "tmpfs", unix.MS_REMOUNT, "size=64m"))
	m := snapshotOK(t, r, src, TakeOptions{}).Manifest

	ballast := filepath.Join(cache, "ballast")
	wimtest.FillDisk(t, ballast, 1<<20)
	_, err = r.Restore(t.Context(), m, filepath.Join(tmp, "out1"), RestoreOptions{})
	if !errors.Is(err, syscall.ENOSPC) || errors.Is(err, ErrRepoFormat) {
		t.Fatalf("restore through a full spool: %v, want ENOSPC and not a format error", err)
	}
	t.Logf("restore error: %v", err)
	must(t, os.Remove(ballast))
	out := filepath.Join(tmp, "out2")
	if _, err := r.Restore(t.Context(), m, out, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
	if left, _ := os.ReadDir(r.spool); len(left) != 0 {
		t.Errorf("%d spool files left behind", len(left))
	}
}

func openSpoolRepo(t *testing.T, store remote.Store, cache string) *Repo {
	t.Helper()
	if _, err := InitRepo(t.Context(), store, wim.CompressXPRESS); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// requireNothingCommitted fails unless the repository lists no snapshot
// and no index object. (Packs a failed run stored are left for prune.)
func requireNothingCommitted(t *testing.T, r *Repo, store remote.Store) {
	t.Helper()
	snaps, err := r.Snapshots(t.Context())
	if err != nil || len(snaps) != 0 {
		t.Errorf("snapshots after a failed run: %d, %v", len(snaps), err)
	}
	objects := 0
	must(t, store.List(t.Context(), indexPrefix, func(remote.Info) error { objects++; return nil }))
	if objects != 0 {
		t.Errorf("%d index objects stored by a failed run", objects)
	}
}
