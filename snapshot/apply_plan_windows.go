//go:build windows

package snapshot

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"

	"github.com/wimsnap/wimsnap/wim"
)

// This file is ApplyOptions.DryRun on Windows: the in-place apply's
// decisions (apply_inplace_windows.go), taken against the target and
// counted, with nothing written.

// planEntry counts what the in-place apply would do for e at path.
func (a *winApplier) planEntry(path string, e *wim.Entry) error {
	info, exists, err := statNoFollow(path)
	if err != nil {
		a.warn(true, fmt.Errorf("looking at the file in place: %w", err))
		return nil
	}
	isDir := exists && info.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY != 0 &&
		info.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT == 0
	switch {
	case e.IsDir() && !e.IsReparse() && isDir:
		a.stats.Dirs++
		return a.children(path, e)
	case e.IsDir() && !e.IsReparse():
		if exists {
			a.stats.Deleted++ // the file or reparse point in its place, as swapInDir counts it
		}
		a.planNew(e) // made afresh
		return nil
	case isDir:
		if !a.clearDirInWay(path) {
			return nil
		}
		exists = false
	}
	if e.LinkID != 0 && a.written[e.LinkID] {
		a.stats.Files++ // relinked to the name written
		return nil
	}
	if first, ok := a.links[e.LinkID]; ok && e.LinkID != 0 {
		a.stats.Files++
		if exists && sameFile(path, first) {
			a.stats.Unchanged++
		}
		return nil
	}
	if exists && !e.IsReparse() && info.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT == 0 && a.sameQuick(&info, e) {
		a.stats.Files++
		a.stats.Unchanged++
		if e.LinkID != 0 {
			a.links[e.LinkID] = path // kept: its further names may be too
		}
		return nil
	}
	a.planNew(e) // marks e's link group written
	return nil
}

// planNew counts e, and all below it, as written.
func (a *winApplier) planNew(e *wim.Entry) {
	switch {
	case e.IsReparse():
		a.stats.Symlinks++
	case e.IsDir():
		a.stats.Dirs++
		rel := a.rel
		names := make(winNames, len(e.Children))
		for _, c := range e.Children {
			a.rel = rel + "/" + c.Name
			if !a.skipName(names, c.Name) {
				a.planNew(c)
			}
		}
		a.rel = rel
	case e.LinkID != 0 && a.written[e.LinkID]:
		a.stats.Files++ // a further name: a link, no data
	default:
		if e.LinkID != 0 {
			a.written[e.LinkID] = true
		}
		a.stats.Files++
		a.stats.Bytes += e.Data.Size
	}
}

// volumeThere returns the error of the drive or share of target when it
// is not there (a drive letter not in use, a share not reachable), which
// the restore fails on when it makes the target; nil for a relative path.
func volumeThere(target string) error {
	vol := filepath.VolumeName(target)
	if vol == "" {
		return nil
	}
	_, err := os.Stat(vol + `\`)
	return err
}
