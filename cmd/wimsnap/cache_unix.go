//go:build unix

package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ownCacheFile reports whether path lies in a directory of this user's
// and is this user's or root's: a file of the user's own cache, which it
// may remove.
func ownCacheFile(path string) bool {
	var dir, st unix.Stat_t
	uid := uint32(os.Geteuid())
	return unix.Stat(filepath.Dir(path), &dir) == nil && dir.Uid == uid &&
		unix.Stat(path, &st) == nil && (st.Uid == uid || st.Uid == 0)
}

// writablePath reports why the file or directory at path, if there is
// one, cannot be written (for a directory: have files made in it).
func writablePath(path string) error {
	err := unix.Access(path, unix.W_OK)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	return &os.PathError{Op: "access", Path: path, Err: err}
}

// writableDir reports why files cannot be created in dir, if they cannot:
// no permission, a read-only file system, or one nearly full, of bytes or
// of inodes.
func writableDir(dir string) error {
	if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
		return &os.PathError{Op: "access", Path: dir, Err: err}
	}
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return nil // the index's own errors tell
	}
	if free, ok := freeBytes(&st); ok && free < minCacheFree {
		return fmt.Errorf("its file system is full (%d KiB free)", free>>10)
	}
	// A file system that counts no inodes (btrfs) gives 0 of 0.
	if st.Files > 0 && st.Ffree < minCacheInodes {
		return fmt.Errorf("its file system is out of inodes (%d free)", st.Ffree)
	}
	return nil
}

// freeBytes returns the bytes this process may still write in the file
// system st describes (root may write into the blocks reserved for it),
// false when that is not known or too large to count.
func freeBytes(st *unix.Statfs_t) (int64, bool) {
	blocks := uint64(st.Bavail) //nolint:unconvert // the fields' types differ between systems
	if unix.Geteuid() == 0 {
		blocks = uint64(st.Bfree) //nolint:unconvert // as above
	}
	size := uint64(st.Bsize) //nolint:unconvert,gosec // as above; a block size is positive
	if size == 0 || blocks > math.MaxInt64/size {
		return 0, false // a FUSE file system that gives no count, or an absurd one
	}
	return int64(blocks * size), true //nolint:gosec // bounded above
}

// minCacheFree is the least free space in which the index cache is used:
// a new index takes its first pages at once, and a full disk failed even
// the commands that only read the repository.
const minCacheFree = 4 << 20

// minCacheInodes is the fewest free inodes in which the index cache is
// used: the index, its lock, spool files and a rebuild's new index.
const minCacheInodes = 16
