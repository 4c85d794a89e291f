//go:build windows

package snapshot

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/windows"

	"github.com/wimsnap/wimsnap/wim"
)

// This file puts an entry in place of one that MoveFileEx cannot replace
// (a directory, a directory reparse point, or a file where the image has
// a directory) in a rollback, in swap's order: the new entry is made under
// a temporary name first, so that a failure to write it leaves the old one.

// errNotWhole is removeOld's error for an old directory that could not be
// removed whole (warned about by removeAll).
var errNotWhole = errors.New("not removed whole")

// replaceDir puts e, a file or reparse point, in place of the directory at
// path (info) when Delete allows it, and reports done as inPlace does.
// When everything in the directory may go, e is written under a temporary
// name and swapped in (rewrite), so that the directory stays whole if
// that fails; otherwise what may go is removed (clearDirInWay), and e is
// made only if the directory is gone.
func (a *winApplier) replaceDir(dir, path string, info *windows.ByHandleFileInformation, e *wim.Entry) (done bool) {
	if !a.mayDelete(a.rel) || !a.removableWhole(path, a.rel) {
		return !a.clearDirInWay(path)
	}
	a.rewrite(dir, path, info, e)
	return true
}

// removableWhole reports whether removeAll would remove the directory
// path, at image path rel, whole, as far as a look tells: nothing in it
// is kept (ApplyOptions.Keep) or kept from deletion (Deletable), and every
// directory in it can be listed. Reparse points are not looked through.
func (a *winApplier) removableWhole(path, rel string) bool {
	if a.keep[strings.ToUpper(path)] {
		return false
	}
	names, err := list(path)
	if err != nil {
		return false
	}
	for _, l := range names {
		p, r := winJoin(path, l.name), rel+"/"+l.name
		if a.opts.Deletable != nil && !a.opts.Deletable(r) {
			return false
		}
		info, exists, err := statNoFollow(p)
		attrs := info.FileAttributes
		if err != nil || exists && attrs&windows.FILE_ATTRIBUTE_DIRECTORY != 0 &&
			attrs&windows.FILE_ATTRIBUTE_REPARSE_POINT == 0 && !a.removableWhole(p, r) {
			return false
		}
	}
	return true
}

// writeTemp writes e, a file or a reparse point, to the temporary name
// tmp (a directory first for a directory reparse point), and reports
// whether it did; if not, it has warned and tmp is gone.
func (a *winApplier) writeTemp(tmp string, e *wim.Entry) bool {
	if dirEntry(e) {
		p, err := windows.UTF16PtrFromString(tmp)
		if err == nil {
			err = windows.CreateDirectory(p, nil)
		}
		if err != nil {
			a.warn(true, fmt.Errorf("create directory: %w", err))
			return false
		}
	}
	if !a.finish(tmp, e, true) {
		if e.IsDir() { // finish removes any other entry
			_ = removeOne(tmp, windows.FILE_ATTRIBUTE_DIRECTORY)
		}
		return false
	}
	return true
}

// tempAttrs returns the attributes removeOne needs to remove the
// temporary entry written for e.
func tempAttrs(e *wim.Entry) uint32 {
	if dirEntry(e) {
		return windows.FILE_ATTRIBUTE_DIRECTORY
	}
	return 0
}

// swapInDir puts an empty directory in place of the file or reparse point
// at path (info), for the walk to fill, and reports whether it did; if
// not, it has warned and path holds the old entry.
func (a *winApplier) swapInDir(dir, path string, info *windows.ByHandleFileInformation) bool {
	tmp := winJoin(dir, a.tempName())
	p, err := windows.UTF16PtrFromString(tmp)
	if err == nil {
		err = windows.CreateDirectory(p, nil)
	}
	if err == nil {
		err = clearReadOnly(path, info.FileAttributes)
	}
	if err == nil {
		err = a.swapIn(dir, tmp, path, info.FileAttributes)
	}
	switch {
	case errors.Is(err, errOldLeft):
		a.warn(true, err) // the old entry stays under a temporary name: partial, as on Linux
	case err != nil:
		_ = removeOne(tmp, windows.FILE_ATTRIBUTE_DIRECTORY)
		a.warn(true, fmt.Errorf("replacing the entry in place by a directory: %w", err))
		return false
	case info.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY == 0 || info.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0:
		a.stats.Deleted++ // the file or reparse point replaced (a directory's removeAll counts)
	}
	return true
}

// swapIn puts the finished temporary entry tmp in place of the entry at
// path, whose attributes are attrs, in swap's order, with a further
// temporary name in dir for the old one; an old directory is removed with
// what it holds (removeAll, at the entry's image path, counted as
// deleted).
func (a *winApplier) swapIn(dir, tmp, path string, attrs uint32) error {
	ops := swapOps{rename: moveNew, removeOld: func(aside string) error {
		if attrs&windows.FILE_ATTRIBUTE_DIRECTORY == 0 || attrs&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0 {
			return removeOne(aside, attrs)
		}
		n, gone := a.removeAll(aside, a.rel)
		a.stats.Deleted += n
		if !gone {
			return errNotWhole
		}
		return nil
	}}
	_, err := swap(tmp, path, winJoin(dir, a.tempName()), ops)
	return err
}

// moveNew renames from to to, which must not exist: a file, a directory or
// a reparse point (renamed itself).
func moveNew(from, to string) error { return moveFile(from, to, 0) }
