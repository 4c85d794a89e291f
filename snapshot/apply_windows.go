//go:build windows

package snapshot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"

	"github.com/wimsnap/wimsnap/wim"
)

// This file is Apply on Windows. Every entry is created, then given its
// contents, named streams and reparse buffer in one BackupWrite stream
// (winbackup.go), then its security descriptor (setSecurity: what the
// process may set of it), its short name, and its attributes and times,
// last so that nothing written after changes them.
// A directory gets its metadata once its children exist. Hard links are
// made with CreateHardLink to the first name written. Paths use the \\?\
// form, so depth and length are not limited by MAX_PATH.

type winApplier struct {
	ctx      context.Context
	m        *wim.Metadata
	src      StreamSource
	opts     ApplyOptions
	target   string            // as given, for messages
	links    map[uint64]string // link group -> first path written
	stats    ApplyStats
	ticker   progressTicker
	rel      string // image path of the current entry, '/'-separated
	openFunc func(wim.Stream) (io.ReadCloser, error)
	token    string          // this run's part of temporary names (in place)
	keep     map[string]bool // ApplyOptions.Keep as upper-case \\?\ paths
	tempSeq  int             // temporary names used so far
	swept    map[string]bool // directories sweepTemps has cleared
	written  map[uint64]bool // DryRun: link groups whose first name is written
	full     error           // the disk filled up: the apply ends (warn)
}

// Apply writes the image m into the directory target; see the UNIX
// version's contract in apply.go. UNIX data does not apply on Windows. In
// place (a rollback, apply_inplace_windows.go), a file is kept when its
// size, last write time and attributes match; a dry run
// (apply_plan_windows.go) counts the in-place apply's decisions.
func Apply(ctx context.Context, m *wim.Metadata, src StreamSource, target string, opts ApplyOptions) (ApplyStats, error) {
	if m == nil || m.Root == nil || !m.Root.IsDir() {
		return ApplyStats{}, errors.New("image has no root directory")
	}
	opts.InPlace = opts.InPlace || opts.DryRun
	tops, err := selectPaths(m.Root, opts.Paths)
	if err != nil {
		return ApplyStats{}, err
	}
	if !opts.DryRun {
		if err := os.MkdirAll(target, 0o755); err != nil {
			return ApplyStats{}, fmt.Errorf("apply target: %w", err)
		}
	} else if err := volumeThere(target); err != nil {
		return ApplyStats{}, fmt.Errorf("apply target: %w", err)
	}
	base, err := longPath(target)
	if err != nil {
		return ApplyStats{}, fmt.Errorf("apply target: %w", err)
	}
	enablePrivileges()
	a := &winApplier{ctx: ctx, m: m, src: src, opts: opts, target: target, links: map[uint64]string{},
		token: newRunToken(), written: map[uint64]bool{}, keep: keepPaths(opts.Keep)}
	a.openFunc = func(s wim.Stream) (io.ReadCloser, error) { return a.src.OpenStream(s.Hash) }
	_, targetExists, _ := statNoFollow(base)
	switch {
	case tops == nil && opts.DryRun && !targetExists:
		a.planNew(m.Root)
	case tops == nil:
		err = a.children(base, m.Root)
		if err == nil {
			a.stats.Dirs++
			if !a.opts.Passages[m.Root] && !opts.DryRun {
				a.finish(base, m.Root, true)
			}
		}
	default:
		names := winNames{}
		for _, e := range tops {
			a.rel = "/" + e.Name
			if a.skipName(names, e.Name) {
				continue
			}
			if err = a.entry(base, e); err != nil {
				break
			}
			if err = a.full; err != nil {
				break
			}
		}
	}
	a.progress(true)
	if err == nil {
		err = cmp.Or(a.full, ctx.Err())
	}
	return a.stats, err
}

// children creates the children of the directory e inside dir; in place,
// it first removes what e lacks (deleteExtra), so that the space that
// frees is there for what it writes.
func (a *winApplier) children(dir string, e *wim.Entry) error {
	rel := a.rel
	defer func() { a.rel = rel }()
	if a.opts.InPlace {
		a.deleteExtra(dir, e)
	}
	names := make(winNames, len(e.Children))
	for _, ch := range e.Children {
		if err := a.ctx.Err(); err != nil {
			return err
		}
		a.rel = rel + "/" + ch.Name
		if a.skipName(names, ch.Name) {
			continue
		}
		if err := a.entry(dir, ch); err != nil {
			return err
		}
		if a.full != nil {
			return a.full
		}
		a.progress(false)
	}
	return nil
}

// skipName reports whether the entry at a.rel, named name, is not to be
// made in the directory whose names so far names holds (winNames.refuse),
// warning about it.
func (a *winApplier) skipName(names winNames, name string) bool {
	err := names.refuse(name)
	if err != nil {
		// By the directory's path, the name quoted in err: joined to it,
		// "../../x" read as a path outside the target.
		rel := a.rel
		a.rel = strings.TrimSuffix(rel, "/"+name)
		a.warn(true, err)
		a.rel = rel
	}
	return err != nil
}

// entry creates e inside dir, whose other names the caller checked
// (skipName); an error ends the apply.
func (a *winApplier) entry(dir string, e *wim.Entry) error {
	path := winJoin(dir, e.Name)
	if a.opts.DryRun {
		return a.planEntry(path, e)
	}
	if a.opts.InPlace && a.inPlace(dir, path, e) {
		return nil
	}
	if !a.opts.InPlace && !e.IsDir() && a.replaceInWay(dir, path, e) { // a directory is filled, not replaced
		return nil
	}
	if first, ok := a.links[e.LinkID]; ok && e.LinkID != 0 && !dirEntry(e) {
		if err := hardLink(path, first); err != nil {
			a.warn(true, fmt.Errorf("hard link: %w", err))
			return nil
		}
		a.stats.Files++
		return nil
	}
	if e.IsDir() && !e.IsReparse() {
		if strings.Count(a.rel, "/") > maxApplyDepth {
			a.warn(true, errors.New("directory nesting too deep; skipped"))
			return nil
		}
		p, err := windows.UTF16PtrFromString(path)
		if err == nil {
			err = windows.CreateDirectory(p, nil)
		}
		existed := errors.Is(err, windows.ERROR_ALREADY_EXISTS)
		if err != nil && !existed {
			a.warn(true, fmt.Errorf("create directory: %w", err))
			return nil
		}
		a.stats.Dirs++
		if err := a.children(path, e); err != nil {
			return err
		}
		if !existed || !a.opts.Passages[e] {
			a.finish(path, e, false)
		}
		return nil
	}
	if dirEntry(e) { // a directory reparse point (junction, directory symlink)
		p, err := windows.UTF16PtrFromString(path)
		if err == nil {
			err = windows.CreateDirectory(p, nil)
		}
		if err != nil {
			a.warn(true, fmt.Errorf("create directory: %w", err))
			return nil
		}
	}
	if !a.finish(path, e, false) {
		return nil
	}
	if e.LinkID != 0 {
		a.links[e.LinkID] = path
	}
	switch {
	case e.IsReparse():
		a.stats.Symlinks++
	default:
		a.stats.Files++
		a.stats.Bytes += e.Data.Size
	}
	return nil
}

// finish writes e's streams and metadata to path: a new file is created
// (what is in its way was replaced by rewrite or removed before), an
// existing directory opened. Failures are warnings; a file whose
// contents could not be written is deleted, and finish reports false.
// The root and a temporary file do not get their short name (a temporary
// file gets it once renamed, as the file it replaces may hold it).
func (a *winApplier) finish(path string, e *wim.Entry, noShortName bool) bool {
	create := uint32(windows.CREATE_NEW)
	if dirEntry(e) { // made by the caller
		create = windows.OPEN_EXISTING
	}
	h, err := openBackup(path, true, create)
	if err != nil {
		a.warn(true, fmt.Errorf("create: %w", err))
		return false
	}
	b := &backupStream{h: h, path: path, write: true}
	err = writeBackup(b, e, a.openFunc)
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = windows.CloseHandle(h)
		a.warn(!e.IsDir(), fmt.Errorf("writing contents and security: %w", err))
		if !e.IsDir() {
			_ = removeOne(path, tempAttrs(e))
		}
		return false
	}
	a.setMetadata(h, e, noShortName)
	// A network share may report a failed write only here; a file kept
	// after it would have the image's size and times but not its data.
	if err := closeHandle(h); err != nil && !e.IsDir() {
		a.warn(true, fmt.Errorf("closing the written file: %w", err))
		_ = removeOne(path, tempAttrs(e)|e.Attributes&windows.FILE_ATTRIBUTE_READONLY)
		return false
	}
	return true
}

// dirEntry reports whether e is made as a directory: a directory, or a
// reparse point with the directory attribute (a junction, a directory
// symbolic link), which wim.Entry.IsDir leaves out as it holds no
// children.
func dirEntry(e *wim.Entry) bool { return e.Attributes&wim.AttrDirectory != 0 }

// closeHandle closes a handle finish wrote through (a variable for
// tests).
var closeHandle = windows.CloseHandle

// setMetadata gives the open file h e's security descriptor, short name
// (unless noShortName), attributes and times; failures are warnings.
func (a *winApplier) setMetadata(h windows.Handle, e *wim.Entry, noShortName bool) {
	a.setSecurity(h, e)
	if n := e.ShortName(); n != "" && !noShortName {
		if err := setShortName(h, n); err != nil {
			a.warn(false, fmt.Errorf("short name %q: %w", n, err))
		}
	}
	if err := setBasicInfo(h, e); err != nil {
		a.warn(false, fmt.Errorf("attributes and times: %w", err))
	}
}

// setSecurity gives the open file h e's security descriptor, or as much of
// it as the process may set: without the restore and security privileges
// (a prompt that is not elevated), an owner other than the user or an
// audit ACL is refused, and the rest is set with a warning rather than
// the file being lost.
func (a *winApplier) setSecurity(h windows.Handle, e *wim.Entry) {
	sd := a.m.Descriptor(e)
	if sd == nil {
		return
	}
	dropped, err := setSecurityParts(h, sd)
	switch {
	case err != nil:
		a.warn(false, err)
	case dropped != 0:
		a.warn(false, fmt.Errorf("security descriptor set without its %s (run elevated to restore them)", partNames(dropped)))
	}
}

// hardLink makes path a new name of the file first.
func hardLink(path, first string) error {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return err
	}
	f, err := windows.UTF16PtrFromString(first)
	if err != nil {
		return err
	}
	return windows.CreateHardLink(p, f, 0)
}

func (a *winApplier) displayPath() string {
	return filepath.Join(a.target, filepath.FromSlash(a.rel))
}

// diskFull reports whether err says that the volume is full: an error of
// Windows', or a write that wrote less than asked without one (as Wine's
// WriteFile does on a full disk).
func diskFull(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL) ||
		errors.Is(err, io.ErrShortWrite)
}

// warn reports a problem with the current entry, counted as skipped when
// skipped; an entry not made because the disk is full ends the apply
// instead (a.full).
func (a *winApplier) warn(skipped bool, err error) {
	if skipped && diskFull(err) {
		// The disk is full: every entry after would fail too; the apply
		// ends, as on Linux (a failed file is removed by its caller).
		if a.full == nil {
			a.full = fmt.Errorf("%s: %w (run it again once there is space)", a.displayPath(), err)
		}
		return
	}
	if skipped {
		a.stats.Skipped++
	}
	if a.opts.Warn != nil {
		a.opts.Warn(a.displayPath(), err)
	}
}

func (a *winApplier) progress(final bool) {
	if a.opts.Progress == nil || !a.ticker.due(final) {
		return
	}
	a.opts.Progress(Progress{Files: a.stats.Files, Dirs: a.stats.Dirs, Bytes: a.stats.Bytes,
		Skipped: a.stats.Skipped, Path: a.displayPath()})
}
