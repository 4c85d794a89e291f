//go:build unix

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// writableDir reports why files cannot be created in dir, if they cannot:
// no permission, or a read-only file system.
func writableDir(dir string) error {
	if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
		return &os.PathError{Op: "access", Path: dir, Err: err}
	}
	return nil
}
