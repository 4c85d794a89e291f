//go:build linux

package index

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenFullDisk: a new index on a full disk fails with ENOSPC, not as a
// corrupt database (which callers delete and rebuild); with space again it
// opens. It mounts a small tmpfs (root).
func TestOpenFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "cache")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("wimsnap-index", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	ballast := filepath.Join(dir, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 1<<20-4096), 0o600); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "x.db")
	_, err := Open(path, "repo-a", Options{})
	if !errors.Is(err, syscall.ENOSPC) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("open on a full disk: %v, want ENOSPC and not ErrCorrupt", err)
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(path)
	db, err := Open(path, "repo-a", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenOutOfDescriptors: an index that cannot be opened because the
// process is out of file descriptors fails with EMFILE, not as a corrupt
// database: its callers deleted a good index and rebuilt it from the
// repository (ulimit -n 8).
func TestOpenOutOfDescriptors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := Open(path, "repo-a", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(os.DevNull) // the lowest free descriptor: a limit of it lets none more open
	if err != nil {
		t.Fatal(err)
	}
	next := uint64(f.Fd())
	_ = f.Close()
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: next, Max: old.Max}); err != nil {
		t.Skipf("setrlimit: %v", err)
	}
	_, err = Open(path, "repo-a", Options{})
	if rerr := unix.Setrlimit(unix.RLIMIT_NOFILE, &old); rerr != nil {
		t.Fatal(rerr)
	}
	if !errors.Is(err, syscall.EMFILE) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("open out of descriptors: %v, want EMFILE and not ErrCorrupt", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the index is gone: %v", err)
	}
}
