//go:build unix

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// holdTemp locks the temporary file f for as long as it is open, so that
// sweepTemps in another process leaves it alone. Where the file system has
// no locks, sweepTemps cannot take the lock either and removes nothing.
func holdTemp(f *os.File) {
	_ = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
}

// tempUnheld reports whether no process holds the temporary file at path.
func tempUnheld(path string) bool {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd) //nolint:errcheck // read-only; closing releases the lock
	return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil
}
