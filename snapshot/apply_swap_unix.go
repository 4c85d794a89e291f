//go:build unix

package snapshot

import (
	"golang.org/x/sys/unix"
)

// This file puts a file in place of a directory in a rollback in swap's
// order: the file is written beside first, so that a failure to write it
// (a full disk, damaged data) leaves the directory whole.

// removableWhole reports whether remove would delete the directory name in
// dfd, whose path from the target is path, whole, as far as a look tells:
// nothing in it is kept from deletion (ApplyOptions.Deletable) or left
// alone by the guard, and every directory in it can be opened and listed.
func (a *applier) removableWhole(dfd int, name, path string) bool {
	fd, err := openDir(dfd, name, true)
	if err != nil {
		return false
	}
	defer closeFD(fd)
	if a.guard.leaveAlone(fd) != nil {
		return false
	}
	names, kept, err := a.deletableNames(fd, path)
	if kept || err != nil {
		return false
	}
	for _, n := range names {
		if isDirAt(fd, n) && !a.removableWhole(fd, n, path+"/"+n) {
			return false
		}
	}
	return true
}

// swapDir puts the finished temporary file of j in place of the directory
// at its name, through swap; the directory is then deleted with what it
// holds (removeAll, which counts and warns), from the temporary name
// j.aside, which a later in-place apply removes if anything of it stays.
// It runs on the walk's goroutine.
func (a *applier) swapDir(j fileJob) error {
	path := j.at.comps()
	ops := swapOps{
		rename: func(from, to string) error { return unix.Renameat(j.dir, from, j.dir, to) },
		removeOld: func(aside string) error {
			a.removeAll(j.dir, aside, path)
			return nil
		},
	}
	_, err := swap(j.tmp, j.e.Name, j.aside, ops)
	return err
}
