//go:build unix

package snapshot

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// This file puts an entry in place of one of another kind in swap's
// order: a file, symlink or special file in place of a directory in a
// rollback, and a directory in place of any other entry. The new entry is
// made beside first, so that a failure to make it (a full disk, a quota,
// damaged data) leaves the old one whole.

// removableWhole reports whether remove would delete the directory name in
// dfd, whose path from the target is path, whole, as far as a look tells:
// nothing in it is kept from deletion (ApplyOptions.Deletable) or left
// alone by the guard, it and every name in it may be deleted
// (replaceDenied: the sticky bit, immutable and append-only flags, a file
// mounted there), and every directory in it can be opened and listed. A
// directory that fails the look is not swapped out but cleared of what
// may go (clearDirInWay), as the dry run counts it: swapped, it stayed
// under a temporary name with what could not go.
func (a *applier) removableWhole(dfd int, name, path string) bool {
	if a.replaceDenied(dfd, name) != nil {
		return false
	}
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
		if isDirAt(fd, n) && !a.removableWhole(fd, n, path+"/"+n) || a.replaceDenied(fd, n) != nil {
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
	_, err := swap(j.tmp, j.e.Name, j.aside, a.dirSwapOps(j.dir, j.at.comps()))
	return a.oldLeft(j.at.comps(), err)
}

// oldLeft warns of err, a swap's that put the new entry at path in place
// but left (some of) the old directory under its temporary name, and
// returns nil; any other err it returns.
func (a *applier) oldLeft(path []string, err error) error {
	if !errors.Is(err, errOldLeft) {
		return err
	}
	a.warnPath(path, true, err) // the target is not the snapshot: partial
	return nil
}

// dirSwapOps are swap's calls for entries in the directory dfd: the old
// entry, at path, is deleted with what it holds, counted; what of it
// stays (an immutable file, a mount point) is reported by swap under the
// temporary name it then keeps, where the user finds it.
func (a *applier) dirSwapOps(dfd int, path []string) swapOps {
	return swapOps{
		rename: func(from, to string) error { return unix.Renameat(dfd, from, dfd, to) },
		removeOld: func(aside string) error {
			// What stays is named where it is: under aside, not at path,
			// where the new entry now is. The filter is asked of the
			// paths in the image, as when the swap was chosen
			// (removableWhole): under aside, none matched an --include.
			at := append(slices.Clone(path[:len(path)-1]), aside)
			defer a.renamedAside("/"+strings.Join(at, "/"), "/"+strings.Join(path, "/"))()
			if kept := a.removeCounted(dfd, aside, at); kept != nil && a.ctx.Err() == nil {
				return fmt.Errorf("delete: %w", kept)
			}
			return nil
		},
	}
}

// makeNode makes the symlink or special file name in dfd, at path, with
// mk, which makes it under the name it is given. In place, a directory
// there that the restore may delete whole is swapped for it (swapNode);
// of any other, what may go is deleted first, and the entry is made only
// if the directory is gone (else the error says why it is kept). Any
// other entry in the way is replaced (replaceNode); when the directory
// refuses that, the error says why (explain). It runs on the walk's
// goroutine or, for a deferred symlink, on a worker.
func (a *applier) makeNode(dfd int, name string, path []string, mk func(at string) error) error {
	if a.opts.InPlace && isDirAt(dfd, name) {
		if a.mayDelete(path) && a.removableWhole(dfd, name, "/"+strings.Join(path, "/")) {
			return a.swapNode(dfd, name, path, mk)
		}
		if err := a.clearDirInWay(dfd, name, path); err != nil {
			return err
		}
	}
	return a.explain(dfd, name, replaceNode(dfd, name, func() error { return mk(name) }))
}

// swapNode makes the new entry with mk under a temporary name beside the
// directory name in dfd, at path, and swaps it in; if either fails, the
// directory stays whole and the temporary entry is gone.
func (a *applier) swapNode(dfd int, name string, path []string, mk func(at string) error) error {
	tmp := a.tempName()
	if err := mk(tmp); err != nil {
		return err
	}
	swapped, err := swap(tmp, name, a.tempName(), a.dirSwapOps(dfd, path))
	if !swapped {
		_ = unix.Unlinkat(dfd, tmp, 0)
		return err
	}
	return a.oldLeft(path, err)
}

// swapInDir puts an empty directory in place of the entry name in dfd
// that is not one (a file, a symlink), for the walk to fill: the directory
// is made under a temporary name first, so that a failure to make it
// leaves the old entry. An old entry that cannot be removed once the
// directory is in place stays under its temporary name, warned about,
// which a later in-place apply removes; one removed counts as deleted. It
// runs on the walk's goroutine.
func (a *applier) swapInDir(dfd int, name string) error {
	tmp := a.tempName()
	if err := a.mkdirAt(dfd, tmp); err != nil {
		return err
	}
	ops := swapOps{
		rename:    func(from, to string) error { return unix.Renameat(dfd, from, dfd, to) },
		removeOld: func(aside string) error { return unix.Unlinkat(dfd, aside, 0) },
	}
	swapped, err := swap(tmp, name, a.tempName(), ops)
	if !swapped {
		_ = unix.Unlinkat(dfd, tmp, unix.AT_REMOVEDIR)
		return err
	}
	if err != nil {
		a.warn(true, err) // the old entry stays under a temporary name: partial, as a deletion that fails
	} else {
		a.deleted.Add(1) // the old entry, which the image has not
	}
	return nil
}
