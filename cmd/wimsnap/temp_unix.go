//go:build unix

package main

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// holdTemp locks the temporary file f, just created, for as long as it is
// open, and reports whether f may be used: not when a sweepTemps of another
// process took the file, before the lock, for a leftover (it holds the
// lock, or has removed the file). Where the file system has no locks,
// removeLeftover cannot take the lock either and removes nothing.
func holdTemp(f *os.File) bool {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); errors.Is(err, unix.EWOULDBLOCK) {
		return false
	}
	return stillNamed(f, f.Name())
}

// stillNamed reports whether path leads to the open file f.
func stillNamed(f *os.File, path string) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	li, err := os.Lstat(path)
	return err == nil && os.SameFile(fi, li)
}

// removeLeftover removes the temporary file at path if no process holds
// it, and reports whether it did. It removes the file while it holds the
// lock itself, so that a createTemp that has just made a file of that name
// either finds the lock taken or the file gone (holdTemp).
func removeLeftover(path string, _ fs.FileInfo) bool {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close() //nolint:errcheck // read-only; closing releases the lock
	if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) != nil || !stillNamed(f, path) {
		return false
	}
	return os.Remove(path) == nil
}

// placeNewTemp gives tmp the name target, which must not exist, and closes
// it: a hard link, which fails rather than replace a file another process
// created at target meanwhile; where the file system has no hard links,
// placeIfAbsent.
func placeNewTemp(tmp *os.File, target string) error {
	err := os.Link(tmp.Name(), target)
	switch {
	case errors.Is(err, fs.ErrExist):
		return errCreatedMeanwhile(target, err)
	case err != nil:
		return placeIfAbsent(tmp, target)
	}
	_ = os.Remove(tmp.Name()) // a name left behind is a leftover link that sweepTemps removes
	return tmp.Close()
}

// placeTemp renames tmp to target, then closes it: a temporary file is
// held until it has its final name, so that removeLeftover never takes a
// complete one for a leftover between the two.
func placeTemp(tmp *os.File, target string) error {
	if err := os.Rename(tmp.Name(), target); err != nil {
		return err
	}
	return tmp.Close()
}
