package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback starts writing the n bytes of f at off to the disk without
// waiting for them (sync_file_range with SYNC_FILE_RANGE_WRITE). It is a
// hint: errors are left to the fsync that follows.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
