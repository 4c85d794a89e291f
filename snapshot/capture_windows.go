//go:build windows

package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
)

// This file is the capture walk on Windows. Each file is opened with
// backup semantics (its reparse point, not its target) and read whole
// through BackupRead, which gives its data, named streams, security
// descriptor and reparse buffer in one pass (see winbackup.go); times,
// attributes and the file id for hard links come from its handle, short
// names from the directory listing. Paths use the \\?\ form, so depth and
// length are not limited by MAX_PATH. With ShadowCopy, the walk reads a
// volume shadow copy of root's volume (vss_windows.go).

// winFileID names a file on a machine: volume serial and file index.
type winFileID struct {
	volume uint32
	index  uint64
}

type winCapturer struct {
	ctx      context.Context
	sink     StreamSink
	opts     CaptureOptions
	cfg      *Config
	root     string // as given, for messages
	sec      securityTable
	links    map[winFileID]*wim.Entry
	nextLink uint64
	skip     map[winFileID]bool
	walkReport
	rel string // path of the current entry below the root, '/'-separated
	// dirEx is what the configuration decides for the entries of the
	// directory being captured (Config.dirExclusionIn).
	dirEx dirExclusion
}

// Capture walks the directory root and returns its image; see the UNIX
// version's contract in capture.go. UNIX data, NTFS modes and CrossMounts
// do not apply on Windows: the Windows metadata is always captured, and
// mount points are kept as the reparse points they are.
func Capture(ctx context.Context, root string, sink StreamSink, opts CaptureOptions) (*wim.Metadata, CaptureStats, error) {
	c := &winCapturer{ctx: ctx, sink: sink, opts: opts, cfg: opts.Config, root: root}
	if c.cfg == nil {
		c.cfg = DefaultConfig()
	}
	if opts.ShadowCopy {
		var m *wim.Metadata
		err := withShadowCopy(root, func(shadowRoot string) error {
			var err error
			m, err = c.capture(shadowRoot)
			return err
		})
		return m, c.stats, err
	}
	m, err := c.capture(root)
	return m, c.stats, err
}

// capture walks from the directory dir.
func (c *winCapturer) capture(dir string) (*wim.Metadata, error) {
	path, err := longPath(dir)
	if err != nil {
		return nil, fmt.Errorf("capture root: %w", err)
	}
	c.skip = c.skipSet(c.opts.Skip)
	root := &wim.Entry{SecurityID: -1}
	h, info, err := c.open(path)
	if err != nil {
		return nil, fmt.Errorf("capture root %s: %w", c.root, err)
	}
	err = c.fill(h, path, root, &info, nil)
	_ = windows.CloseHandle(h)
	if err != nil {
		return nil, fmt.Errorf("capture root %s: %w", c.root, err)
	}
	root.Attributes |= wim.AttrDirectory
	c.stats.Dirs++
	if err := c.opts.prepare(); err != nil {
		return nil, err
	}
	var old *wim.Entry
	if u := c.opts.Update; u != nil && u.Root != nil && u.Root.IsDir() {
		old = u.Root
	}
	if root.Attributes&wim.AttrReparsePoint == 0 {
		if err := c.dir(path, root, old); err != nil {
			return nil, err
		}
	}
	c.progress(true)
	return &wim.Metadata{Root: root, Security: c.sec.list}, nil
}

// skipSet identifies the files of CaptureOptions.Skip.
func (c *winCapturer) skipSet(paths []string) map[winFileID]bool {
	set := map[winFileID]bool{}
	for _, p := range paths {
		lp, err := longPath(p)
		if err != nil {
			continue
		}
		if h, info, err := c.open(lp); err == nil {
			set[fileID(&info)] = true
			_ = windows.CloseHandle(h)
		}
	}
	return set
}

func fileID(info *windows.ByHandleFileInformation) winFileID {
	return winFileID{info.VolumeSerialNumber, uint64(info.FileIndexHigh)<<32 | uint64(info.FileIndexLow)}
}

// open opens path for reading with backup semantics and returns its
// handle information.
func (c *winCapturer) open(path string) (windows.Handle, windows.ByHandleFileInformation, error) {
	var info windows.ByHandleFileInformation
	h, err := openBackup(path, false, windows.OPEN_EXISTING)
	if err != nil {
		return windows.InvalidHandle, info, err
	}
	if err := windows.GetFileInformationByHandle(h, &info); err != nil {
		_ = windows.CloseHandle(h)
		return windows.InvalidHandle, info, err
	}
	return h, info, nil
}

// listing is one directory entry: its name and short name.
type listing struct{ name, short string }

// list returns the entries of the directory path, sorted as a WIM stores
// them.
func list(path string) ([]listing, error) {
	p, err := windows.UTF16PtrFromString(winJoin(path, "*"))
	if err != nil {
		return nil, err
	}
	var fd windows.Win32finddata
	h, err := windows.FindFirstFile(p, &fd)
	if err != nil {
		return nil, err
	}
	defer func() { _ = windows.FindClose(h) }()
	var out []listing
	for {
		name := windows.UTF16ToString(fd.FileName[:])
		if name != "." && name != ".." {
			out = append(out, listing{name, windows.UTF16ToString(fd.AlternateFileName[:])})
		}
		if err := windows.FindNextFile(h, &fd); err != nil {
			if errors.Is(err, windows.ERROR_NO_MORE_FILES) {
				break
			}
			return out, err
		}
	}
	slices.SortFunc(out, func(a, b listing) int { return wim.CompareNames(a.name, b.name) })
	return out, nil
}

// dir captures the children of the directory path into e.
func (c *winCapturer) dir(path string, e *wim.Entry, old *wim.Entry) error {
	names, err := list(path)
	if err != nil {
		c.warn(true, fmt.Errorf("list directory: %w", err))
	}
	oldChildren := childrenByName(old)
	rel := c.rel
	defer func() { c.rel = rel }()
	e.Children = make([]*wim.Entry, 0, len(names))
	for _, l := range names {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		c.rel = strings.TrimPrefix(rel+"/"+l.name, "/")
		ch, err := c.entry(winJoin(path, l.name), l, oldChildren[l.name])
		if err != nil {
			return err
		}
		if ch != nil {
			e.Children = append(e.Children, ch)
		}
		c.progress(false)
	}
	return nil
}

// entry captures one file or directory; nil for one left out.
func (c *winCapturer) entry(path string, l listing, old *wim.Entry) (*wim.Entry, error) {
	h, info, err := c.open(path)
	if err != nil {
		c.warn(true, fmt.Errorf("open: %w", err))
		return nil, nil
	}
	defer func() { _ = windows.CloseHandle(h) }()
	isDir := info.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY != 0
	id := fileID(&info)
	if c.skip[id] || c.cfg.excludedIn(c.dirEx, c.rel, isDir) {
		return nil, nil
	}
	e := &wim.Entry{Name: l.name, SecurityID: -1}
	if !isDir && info.NumberOfLinks > 1 {
		if first := c.links[id]; first != nil {
			if first.LinkID == 0 {
				c.nextLink++
				first.LinkID = c.nextLink
			}
			*e = *first
			e.Name = l.name
			c.stats.Files++
			return e, nil
		}
		if c.links == nil {
			c.links = map[winFileID]*wim.Entry{}
		}
		c.links[id] = e
	}
	if err := c.fill(h, path, e, &info, old); err != nil {
		if errors.Is(err, errBackupFormat) || c.ctx.Err() == nil && !isSinkError(err) {
			c.warn(true, err)
			delete(c.links, id)
			return nil, nil
		}
		return nil, fmt.Errorf("storing %s: %w", c.rel, err)
	}
	if l.short != "" && !strings.EqualFold(l.short, l.name) {
		entryExt(e).ShortName = l.short
	}
	switch {
	case e.Attributes&wim.AttrReparsePoint != 0:
		c.stats.Symlinks++
	case isDir:
		c.stats.Dirs++
		parent := c.dirEx
		c.dirEx = c.cfg.dirExclusionIn(parent, c.rel)
		defer func() { c.dirEx = parent }()
		return e, c.dir(path, e, old)
	default:
		c.stats.Files++
		c.stats.Bytes += e.Data.Size
	}
	return e, nil
}

// isSinkError tells a failure of the sink (fatal) from one of the file.
func isSinkError(err error) bool {
	var se *sinkError
	return errors.As(err, &se)
}

// sinkError marks an error the sink returned.
type sinkError struct{ err error }

func (e *sinkError) Error() string { return e.err.Error() }
func (e *sinkError) Unwrap() error { return e.err }

// guardedSink wraps errors of the sink as sinkError, except a short read,
// which is the file's.
type guardedSink struct{ StreamSink }

func (g guardedSink) AddStream(r io.Reader, size int64) (wim.Hash, error) {
	h, err := g.StreamSink.AddStream(r, size)
	if err != nil && !errors.Is(err, wim.ErrSizeChanged) {
		err = &sinkError{err}
	}
	return h, err
}

// fill sets e's times and attributes from info and reads its streams,
// security and reparse point through BackupRead from h, the open file at
// path, unless old (the entry of
// the previous image at the same path) has the same size and last write
// time: then its streams are reused and only the descriptor is read.
func (c *winCapturer) fill(h windows.Handle, path string, e *wim.Entry, info *windows.ByHandleFileInformation, old *wim.Entry) error {
	e.Attributes = info.FileAttributes
	e.CreationTime = filetime(info.CreationTime)
	e.LastAccessTime = filetime(info.LastAccessTime)
	e.LastWriteTime = filetime(info.LastWriteTime)
	size := int64(info.FileSizeHigh)<<32 | int64(info.FileSizeLow)
	sig := index.Sig{Size: size, MtimeNs: int64(e.LastWriteTime), CtimeNs: int64(e.CreationTime),
		Ino: uint64(info.FileIndexHigh)<<32 | uint64(info.FileIndexLow), Dev: uint64(info.VolumeSerialNumber), Mode: info.FileAttributes}
	isDir := info.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY != 0
	reuse, kept := false, false
	if !isDir {
		reuse, kept = c.reusable(old, e, size, sig)
	}
	if reuse {
		sd, err := securityOf(h)
		if err != nil {
			return err
		}
		if len(sd) > 0 {
			e.SecurityID = c.sec.id(sd)
		}
		e.Data = old.Data
		if named := old.NamedStreams(); named != nil {
			entryExt(e).Named = named
		}
		c.stats.Reused++
		c.onFile(sig, kept)
		return nil
	}
	if bs, ok := c.sink.(baseSetter); ok && old != nil && !old.IsDir() && !old.Data.Hash.IsZero() {
		bs.setBase(old.Data.Hash) // a changed file is stored as its differences
	}
	b := &backupStream{h: h, path: path}
	defer func() { _ = b.Close() }()
	if err := readBackup(b, size, e, guardedSink{fileSink(c.sink, c.cfg, c.rel)}, &c.sec); err != nil {
		return err
	}
	if !isDir && e.Attributes&wim.AttrReparsePoint == 0 {
		c.stats.Read++
		c.stats.BytesRead += e.Data.Size
		c.onFile(sig, false)
	}
	return nil
}

// reusable reports whether old holds the streams of the file e describes,
// and whether the signature Signatures holds for it is exactly sig.
func (c *winCapturer) reusable(old, e *wim.Entry, size int64, sig index.Sig) (reuse, kept bool) {
	if old == nil || old.IsDir() || old.IsReparse() || old.Data.Size != size || old.LastWriteTime != e.LastWriteTime {
		return false, false
	}
	if size > 0 && !c.opts.held(c.sink, old.Data) {
		return false, false
	}
	if c.opts.Signatures != nil {
		stored, ok := c.opts.Signatures.Lookup([]byte(c.rel))
		kept = ok && stored == sig
		if !ok || stored.Size != sig.Size || stored.MtimeNs != sig.MtimeNs || stored.Ino != sig.Ino || stored.Mode != sig.Mode {
			return false, false
		}
	}
	return true, kept
}

// onFile reports a regular file captured; kept tells that reusable found
// its stored signature equal to sig.
func (c *winCapturer) onFile(sig index.Sig, kept bool) {
	if c.opts.OnFile != nil {
		c.opts.OnFile([]byte(c.rel), sig, kept)
	}
}

// securityOf returns the self-relative security descriptor of h.
func securityOf(h windows.Handle) ([]byte, error) {
	what := windows.SECURITY_INFORMATION(windows.OWNER_SECURITY_INFORMATION | windows.GROUP_SECURITY_INFORMATION | windows.DACL_SECURITY_INFORMATION)
	if enablePrivileges() {
		what |= windows.SACL_SECURITY_INFORMATION
	}
	sd, err := windows.GetSecurityInfo(h, windows.SE_FILE_OBJECT, what)
	if err != nil {
		return nil, fmt.Errorf("security descriptor: %w", err)
	}
	return append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(sd)), sd.Length())...), nil
}

func (c *winCapturer) displayPath() string {
	if c.rel == "" {
		return c.root
	}
	return filepath.Join(c.root, filepath.FromSlash(c.rel))
}

func (c *winCapturer) warn(skipped bool, err error) {
	c.walkReport.warn(&c.opts, c.displayPath(), skipped, err)
}

func (c *winCapturer) progress(final bool) {
	c.walkReport.progress(&c.opts, final, c.displayPath)
}
