//go:build windows

package snapshot

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/windows"

	"github.com/wimsnap/wimsnap/wim"
)

// This file is what ApplyOptions.InPlace adds to Apply on Windows (a
// rollback). A file whose size, last write time and attributes match the
// image's is kept, and only its security descriptor, attributes and times
// are set again; any other is written under a temporary name in its
// directory and renamed over the old one (MoveFileEx), so that it is
// replaced whole or not at all. Reparse points are replaced the same way.
// Where a rename cannot replace the old entry (it or the new one is a
// directory or a directory reparse point), the new one is made under a
// temporary name all the same and swapped in (swap): the old one is
// renamed aside, the new one in, and the old one removed only then.
// Delete removes what the image lacks, never through a reparse point: a
// junction or symbolic link is removed itself, not what it points to.
// Names are compared as Windows does, without regard to case.

// errInTheWay is the warning for an entry left out because a directory is
// in its place and Delete does not allow removing it.
var errInTheWay = errors.New("a directory is in the way; left alone (restore --delete replaces it)")

// inPlace looks at what path holds before e is written there. It reports
// done when nothing more is to be done for e (kept, replaced, or left
// alone with a warning); otherwise path is free, or holds the directory
// that e, a directory, keeps (found there, or swapped in empty for what
// was there).
func (a *winApplier) inPlace(dir, path string, e *wim.Entry) (done bool) {
	info, exists, err := statNoFollow(path)
	if err != nil {
		a.warn(true, fmt.Errorf("looking at the file in place: %w", err))
		return true
	}
	if !exists {
		return false
	}
	isDir := info.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY != 0
	isReparse := info.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0
	switch {
	case e.IsDir() && !e.IsReparse() && isDir && !isReparse:
		return false // kept; its children come next
	case isDir && !isReparse:
		return a.replaceDir(dir, path, &info, e)
	case e.IsDir() && !e.IsReparse():
		// A file or reparse point where the image has a directory: an
		// empty one is swapped in, then filled as one found.
		return !a.swapInDir(dir, path, &info)
	}
	first, linked := a.links[e.LinkID]
	linked = linked && e.LinkID != 0
	if linked && sameFile(path, first) {
		a.stats.Files++
		a.stats.Unchanged++
		return true
	}
	if !linked && !isReparse && !e.IsReparse() && a.sameQuick(&info, e) {
		a.setMeta(path, e)
		a.stats.Files++
		a.stats.Unchanged++
		if e.LinkID != 0 {
			a.links[e.LinkID] = path
		}
		return true
	}
	a.rewrite(dir, path, &info, e)
	return true
}

// rewrite writes e, not a plain directory, under a temporary name in dir
// (a further name of its link group, a new file or reparse point) and
// puts it in place of what path holds, which info describes (replace):
// path holds the old entry or e, never neither, nor part of e. e is
// counted once path holds it; a failure leaves the old entry, with a
// warning.
func (a *winApplier) rewrite(dir, path string, info *windows.ByHandleFileInformation, e *wim.Entry) {
	tmp := winJoin(dir, a.tempName())
	if first, ok := a.links[e.LinkID]; ok && e.LinkID != 0 {
		if err := hardLink(tmp, first); err != nil {
			a.warn(true, fmt.Errorf("hard link: %w", err))
			return
		}
		if a.replace(dir, tmp, path, info, e) {
			a.stats.Files++
		}
		return
	}
	if !a.writeTemp(tmp, e) || !a.replace(dir, tmp, path, info, e) {
		return
	}
	if e.LinkID != 0 {
		a.links[e.LinkID] = path
	}
	if e.IsReparse() {
		a.stats.Symlinks++
	} else {
		a.stats.Files++
		a.stats.Bytes += e.Data.Size
	}
}

// replaceInWay writes e, not a directory, over what path holds when that
// is a file or a reparse point, through rewrite, and reports whether it
// did: an apply that is not in place (extract) replaces an existing file
// whole, as the UNIX one does, instead of removing it before the new
// contents are written. The temporary files of other runs in dir go
// first (sweepTemps).
func (a *winApplier) replaceInWay(dir, path string, e *wim.Entry) bool {
	info, exists, err := statNoFollow(path)
	attrs := info.FileAttributes
	if err != nil || !exists || attrs&windows.FILE_ATTRIBUTE_DIRECTORY != 0 && attrs&windows.FILE_ATTRIBUTE_REPARSE_POINT == 0 {
		return false
	}
	a.sweepTemps(dir)
	a.rewrite(dir, path, &info, e)
	return true
}

// ownTemp reports whether name is one of this run's temporary files.
func (a *winApplier) ownTemp(name string) bool {
	return isTempName(name) && strings.Contains(name, a.token)
}

// sweepTemps removes, the first time a file is replaced in the directory
// dir outside in-place mode, the temporary files other runs left there
// (an extract killed while it wrote a replacement); in place,
// deleteExtra removes them.
func (a *winApplier) sweepTemps(dir string) {
	if a.swept[dir] {
		return
	}
	if a.swept == nil {
		a.swept = make(map[string]bool)
	}
	a.swept[dir] = true
	names, err := list(dir)
	if err != nil {
		return // nothing is lost: the leftovers stay
	}
	for _, l := range names {
		if isTempName(l.name) && !a.ownTemp(l.name) {
			p := winJoin(dir, l.name)
			if info, ok, err := statNoFollow(p); err == nil && ok {
				_ = removeOne(p, info.FileAttributes) // one removed meanwhile is gone either way
			}
		}
	}
}

// clearDirInWay removes the directory at path, where the image has a file
// or a reparse point, when Delete allows it (with DryRun, counts it), and
// reports whether it is gone; if not, it has warned.
func (a *winApplier) clearDirInWay(path string) bool {
	if !a.mayDelete(a.rel) {
		a.warn(true, errInTheWay)
		return false
	}
	n, gone := a.removeAll(path, a.rel)
	a.stats.Deleted += n
	if !gone {
		a.warn(true, errors.New("a directory is in the way and could not be removed whole; left alone"))
		return false
	}
	return true
}

// tempName is the temporary name of the n-th file of this run.
func (a *winApplier) tempName() string {
	a.tempSeq++
	return fmt.Sprintf("%s%s-%d.tmp", tempPrefix, a.token, a.tempSeq)
}

// sameQuick reports whether the regular file info describes already holds
// e, judged as a quick check: size, last write time and attributes.
func (a *winApplier) sameQuick(info *windows.ByHandleFileInformation, e *wim.Entry) bool {
	size := int64(info.FileSizeHigh)<<32 | int64(info.FileSizeLow)
	return size == e.Data.Size && filetime(info.LastWriteTime) == e.LastWriteTime &&
		settableWinAttributes(info.FileAttributes) == settableWinAttributes(e.Attributes)
}

// setMeta sets the security descriptor, attributes and times of e on the
// existing file path, whose contents are kept.
func (a *winApplier) setMeta(path string, e *wim.Entry) {
	h, err := openMeta(path)
	if err != nil {
		a.warn(false, fmt.Errorf("opening for metadata: %w", err))
		return
	}
	defer func() { _ = windows.CloseHandle(h) }()
	a.setSecurity(h, e)
	if err := setBasicInfo(h, e); err != nil {
		a.warn(false, fmt.Errorf("attributes and times: %w", err))
	}
}

// replace puts the finished temporary entry tmp, e, in place of what
// path held, which info describes: renamed over it, or swapped in
// (swapIn) where either is a directory; then it gives it e's short name.
// On failure it removes tmp, warns and reports false.
func (a *winApplier) replace(dir, tmp, path string, info *windows.ByHandleFileInformation, e *wim.Entry) bool {
	err := clearReadOnly(path, info.FileAttributes)
	if err == nil && (info.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY != 0 || dirEntry(e)) {
		err = a.swapIn(dir, tmp, path, info.FileAttributes)
	} else if err == nil {
		err = moveOver(tmp, path)
	}
	if errors.Is(err, errOldLeft) {
		a.warn(true, err) // the new entry is in place, the old one under a temporary name: partial, as on Linux
		err = nil
	}
	if err != nil {
		_ = removeOne(tmp, tempAttrs(e))
		a.warn(true, fmt.Errorf("replacing the file: %w", err))
		return false
	}
	if n := e.ShortName(); n != "" {
		if h, err := openMeta(path); err == nil {
			if err := setShortName(h, n); err != nil {
				a.warn(false, fmt.Errorf("short name %q: %w", n, err))
			}
			_ = windows.CloseHandle(h)
		}
	}
	return true
}

// mayDelete reports whether the entry at image path rel may be removed.
func (a *winApplier) mayDelete(rel string) bool {
	return a.opts.Delete && (a.opts.Deletable == nil || a.opts.Deletable(rel))
}

// deleteExtra removes from the directory dir what the image directory e
// lacks (with Delete), and temporary files of interrupted runs.
func (a *winApplier) deleteExtra(dir string, e *wim.Entry) {
	if a.keep[strings.ToUpper(dir)] {
		a.warn(false, errKeptDir)
		return
	}
	names, err := list(dir)
	if err != nil {
		a.warn(false, fmt.Errorf("listing for --delete: %w", err))
		return
	}
	want := make(map[string]string, len(e.Children)) // the first of names that differ in case alone, as skipName keeps
	for _, c := range e.Children {
		if _, ok := want[strings.ToUpper(c.Name)]; !ok {
			want[strings.ToUpper(c.Name)] = c.Name
		}
	}
	for _, l := range names {
		if a.ctx.Err() != nil {
			return // interrupted: what is left stays (Apply returns the error)
		}
		if img, ok := want[strings.ToUpper(l.name)]; ok {
			a.recase(dir, l.name, img)
			continue
		}
		rel := a.rel + "/" + l.name
		if isTempName(l.name) && a.opts.Deletable != nil && !a.opts.Deletable(rel) || !isTempName(l.name) && !a.mayDelete(rel) {
			continue // a leftover at an excluded path is left as it is too
		}
		if n, _ := a.removeAll(winJoin(dir, l.name), rel); !isTempName(l.name) {
			a.stats.Deleted += n
		}
	}
}

// recase renames the entry name in dir, which the image has as img, a
// name that differs in case alone, to img: a rollback kept the case it
// found ("report.txt" for the image's "Report.txt"), so a snapshot of the
// tree it restored differed from the one restored. In a directory that
// tells case apart and holds both names, the other is another file: it is
// left alone, with a warning. A file system that takes a case-only rename
// for no change (Wine's) gets it through a temporary name. Nothing is
// renamed in a dry run; a rename that fails is warned about, and the entry
// keeps its name.
func (a *winApplier) recase(dir, name, img string) {
	if name == img || a.opts.DryRun {
		return
	}
	from, to := winJoin(dir, name), winJoin(dir, img)
	fi, err := os.Lstat(from)
	if err == nil {
		if fj, err := os.Lstat(to); err == nil && !os.SameFile(fi, fj) {
			a.warn(false, fmt.Errorf("%s: not renamed to the snapshot's %q: that name is another file here", name, img))
			return
		}
		err = os.Rename(from, to)
	}
	if listed, ok := listedName(to); err == nil && ok && listed != img {
		err = a.renameThroughTemp(dir, from, to)
	}
	if err != nil {
		a.warn(false, fmt.Errorf("%s: renaming to the snapshot's %q: %w", name, img, err))
	}
}

// renameThroughTemp renames from to to through a temporary name in dir,
// putting it back when the second rename fails.
func (a *winApplier) renameThroughTemp(dir, from, to string) error {
	tmp := winJoin(dir, a.tempName())
	if err := os.Rename(from, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, to); err != nil {
		_ = os.Rename(tmp, from)
		return err
	}
	return nil
}

// removeAll removes path, at image path rel, and everything below it that
// Deletable allows, and returns how many entries it removed, path and
// those below it, as the UNIX apply counts them, and whether path is gone
// (with DryRun, would be, and would remove: nothing is removed). A
// reparse point is removed itself, never followed.
func (a *winApplier) removeAll(path, rel string) (n int64, gone bool) {
	if a.keep[strings.ToUpper(path)] {
		a.warn(false, fmt.Errorf("%s: %w", rel, errKeptDir))
		return 0, false
	}
	info, exists, err := statNoFollow(path)
	if err != nil || !exists {
		return 0, !exists && err == nil
	}
	attrs := info.FileAttributes
	if attrs&windows.FILE_ATTRIBUTE_DIRECTORY != 0 && attrs&windows.FILE_ATTRIBUTE_REPARSE_POINT == 0 {
		names, err := list(path)
		if err != nil {
			a.warn(false, fmt.Errorf("listing for --delete: %w", err))
			return 0, false
		}
		all := true
		for _, l := range names {
			if a.ctx.Err() != nil {
				return n, false // interrupted: the directory stays with what is left
			}
			r := rel + "/" + l.name
			if a.opts.Deletable != nil && !a.opts.Deletable(r) {
				all = false
				continue
			}
			m, ok := a.removeAll(winJoin(path, l.name), r)
			n += m
			all = all && ok
		}
		if !all {
			return n, false
		}
	}
	if a.opts.DryRun {
		return n + 1, true
	}
	if err := removeOne(path, attrs); err != nil {
		a.warn(false, fmt.Errorf("deleting %s: %w", rel, err))
		return n, false
	}
	return n + 1, true
}

// statNoFollow returns the handle information of path itself (a reparse
// point is not followed), and whether it exists.
func statNoFollow(path string) (windows.ByHandleFileInformation, bool, error) {
	var info windows.ByHandleFileInformation
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return info, false, err
	}
	share := uint32(windows.FILE_SHARE_READ | windows.FILE_SHARE_WRITE | windows.FILE_SHARE_DELETE)
	h, err := windows.CreateFile(p, windows.FILE_READ_ATTRIBUTES, share, nil, windows.OPEN_EXISTING,
		windows.FILE_FLAG_BACKUP_SEMANTICS|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if errors.Is(err, windows.ERROR_FILE_NOT_FOUND) || errors.Is(err, windows.ERROR_PATH_NOT_FOUND) {
		return info, false, nil
	}
	if err != nil {
		return info, false, err
	}
	defer func() { _ = windows.CloseHandle(h) }()
	err = windows.GetFileInformationByHandle(h, &info)
	return info, err == nil, err
}

// sameFile reports whether the paths a and b name one file.
func sameFile(a, b string) bool {
	x, okA, errA := statNoFollow(a)
	y, okB, errB := statNoFollow(b)
	return errA == nil && errB == nil && okA && okB && fileID(&x) == fileID(&y)
}

// openMeta opens path, without following a reparse point, to set its
// security descriptor, attributes, times and short name: not for writing
// its data, which a read-only file refuses.
func openMeta(path string) (windows.Handle, error) {
	access := uint32(windows.WRITE_DAC | windows.WRITE_OWNER | windows.FILE_WRITE_ATTRIBUTES | windows.READ_CONTROL | windows.DELETE)
	return openNoFollow(path, access, windows.OPEN_EXISTING, 0)
}

// clearReadOnly clears the read-only attribute of path, which has attrs,
// so that it can be replaced or deleted.
func clearReadOnly(path string, attrs uint32) error {
	if attrs&windows.FILE_ATTRIBUTE_READONLY == 0 {
		return nil
	}
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return err
	}
	return windows.SetFileAttributes(p, attrs&^windows.FILE_ATTRIBUTE_READONLY&^windows.FILE_ATTRIBUTE_REPARSE_POINT&^windows.FILE_ATTRIBUTE_DIRECTORY)
}

// removeOne removes the file, empty directory or reparse point path, which
// has attrs.
func removeOne(path string, attrs uint32) error {
	if err := clearReadOnly(path, attrs); err != nil {
		return err
	}
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return err
	}
	if attrs&windows.FILE_ATTRIBUTE_DIRECTORY != 0 {
		return windows.RemoveDirectory(p)
	}
	return windows.DeleteFile(p)
}

// moveOver renames from to to, replacing the file to.
func moveOver(from, to string) error {
	return moveFile(from, to, windows.MOVEFILE_REPLACE_EXISTING)
}

// moveFile renames from to to with MoveFileEx and flags.
func moveFile(from, to string, flags uint32) error {
	f, err := windows.UTF16PtrFromString(from)
	if err != nil {
		return err
	}
	t, err := windows.UTF16PtrFromString(to)
	if err != nil {
		return err
	}
	return windows.MoveFileEx(f, t, flags)
}

// keepPaths returns the directories of keep as the upper-case \\?\ paths
// the walk compares with: Windows compares names without case. The
// comparison is by path, so a directory reached through a junction is not
// recognised; the walk never follows one.
func keepPaths(keep []string) map[string]bool {
	m := make(map[string]bool, len(keep))
	for _, k := range keep {
		if p, err := longPath(k); err == nil {
			m[strings.ToUpper(p)] = true // Abs, within longPath, cleaned it
		}
	}
	return m
}
