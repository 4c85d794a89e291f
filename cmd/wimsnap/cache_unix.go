//go:build unix

package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// writableDir reports why files cannot be created in dir, if they cannot:
// no permission, a read-only file system, or one nearly full.
func writableDir(dir string) error {
	if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
		return &os.PathError{Op: "access", Path: dir, Err: err}
	}
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) == nil && int64(st.Bavail)*int64(st.Bsize) < minCacheFree { //nolint:unconvert // the fields' types differ between systems
		return fmt.Errorf("its file system is full (%d KiB free)", int64(st.Bavail)*int64(st.Bsize)>>10) //nolint:unconvert // as above
	}
	return nil
}

// minCacheFree is the least free space in which the index cache is used:
// a new index takes its first pages at once, and a full disk failed even
// the commands that only read the repository.
const minCacheFree = 4 << 20
