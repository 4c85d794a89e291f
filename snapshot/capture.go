package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
)

// StreamSink receives file contents during capture. A *wim.Writer
// satisfies it. Capture calls it from one goroutine.
type StreamSink interface {
	// AddStream stores size bytes read from r and returns their hash. It
	// returns an error wrapping wim.ErrSizeChanged when r ends early; an
	// error that r itself returned is passed through. Either leaves the
	// sink usable; any other error ends the capture.
	AddStream(r io.Reader, size int64) (wim.Hash, error)
	// HasStream reports whether the sink already holds the stream h.
	HasStream(h wim.Hash) bool
}

// CaptureOptions configures Capture. The zero value captures with DISM's
// default exclusions, UNIX data and xattrs, staying on one file system.
type CaptureOptions struct {
	// Config holds the exclusions; nil means DefaultConfig().
	Config *Config
	// CrossMounts descends into directories on other file systems. By
	// default a mount point is kept as an empty directory.
	CrossMounts bool
	// NoUnixData leaves out UNIX data (uid, gid, mode, rdev) and xattrs,
	// and skips FIFOs, sockets and device nodes, as wimlib does without
	// --unix-data.
	NoUnixData bool
	// Update is the previous image of the same tree (--update-of): a
	// regular file whose size and mtime (and, when the old entry has UNIX
	// data, mode, uid and gid) equal those of the entry at the same path
	// reuses its streams without being opened, provided the sink holds
	// them (HasStream).
	Update *wim.Metadata
	// Signatures, if set, narrows Update: a file is reused only when the
	// signature stored for its path (relative to the root, '/'-separated)
	// equals its current one (size, mtime, ctime, inode, mode; not the device
	// number, which a file system snapshot mounted afresh changes).
	Signatures SigLookup
	// OnFile, if set, is called with the path (as for Signatures) and
	// signature of every regular file captured, read or reused; the path
	// is valid only during the call.
	OnFile func(path []byte, sig index.Sig)
	// Progress, if set, is called from the walking goroutine at most every
	// 100 ms, and once at the end.
	Progress func(Progress)
	// Warn, if set, is called once for every file skipped or captured with
	// a problem. path is the file's path under the root as given.
	Warn func(path string, err error)

	// NTFS says whether Windows metadata is read through ntfs-3g's
	// extended attributes (security descriptors, attributes, times, short
	// names, named streams, reparse points) instead of UNIX data.
	NTFS NTFSMode

	// Skip lists files to leave out wherever they appear in the tree,
	// matched by device and inode, such as the WIM being written into the
	// source directory. Paths that do not exist are ignored.
	Skip []string

	// pathXattrs is a test hook: read xattrs by path, as on kernels
	// without listxattrat.
	pathXattrs bool

	// beforeOpen is a test hook called with the path of each regular file
	// before it is opened for reading.
	beforeOpen func(path string)
}

// SigLookup finds the stored signature of a path; *index.Files is one.
type SigLookup interface {
	Lookup(path []byte) (index.Sig, bool)
}

// progressTicker spaces progress reports at least 100 ms apart.
type progressTicker struct{ last time.Time }

// due reports whether a report is due now; a final report always is.
func (t *progressTicker) due(final bool) bool {
	now := time.Now()
	if !final && now.Sub(t.last) < 100*time.Millisecond {
		return false
	}
	t.last = now
	return true
}

// Progress is a snapshot of a running capture or apply.
type Progress struct {
	Files, Dirs, Bytes, Skipped int64
	Path                        string // the entry being processed
}

// CaptureStats counts what Capture did. Files counts regular files (every
// name of a hard-linked file), Bytes their sizes (once per inode),
// BytesRead what was actually read, Read the files opened and read, Reused
// the files whose streams came from CaptureOptions.Update. Skipped counts entries left out because of an
// error; Warnings the other warnings (names that are not UTF-8,
// unreadable xattrs), so that Skipped+Warnings is the number of Warn calls.
type CaptureStats struct {
	Dirs, Files, Symlinks, Special, Bytes, BytesRead, Read, Reused, Skipped, Warnings int64
}

// Capture walks the directory root and returns its image. Contents go to
// sink as they are read; the caller adds the returned Metadata to its WIM.
// The error is non-nil only when the capture could not finish: root is
// unreadable, the sink failed, or ctx was cancelled.
func Capture(ctx context.Context, root string, sink StreamSink, opts CaptureOptions) (*wim.Metadata, CaptureStats, error) {
	c := &capturer{ctx: ctx, sink: sink, opts: opts, root: root, cfg: opts.Config, noXattrAt: opts.pathXattrs}
	if c.cfg == nil {
		c.cfg = DefaultConfig()
	}
	c.absRoot, _ = filepath.Abs(root)
	if real, err := filepath.EvalSymlinks(root); err == nil {
		c.realRoot, _ = filepath.Abs(real)
	}
	if _, err := os.Stat("/proc/self/fd"); err == nil {
		c.procFD = true
	}
	fd, err := c.openDir(unix.AT_FDCWD, root, false)
	if err != nil {
		return nil, c.stats, fmt.Errorf("snapshot: capture root: %w", &os.PathError{Op: "open", Path: root, Err: err})
	}
	defer closeFD(fd)
	var st unix.Stat_t
	if err := fstat(fd, &st); err != nil {
		return nil, c.stats, fmt.Errorf("snapshot: capture root: %w", &os.PathError{Op: "stat", Path: root, Err: err})
	}
	c.rootDev = st.Dev
	c.skip = skipSet(opts.Skip)
	if err := c.probeNTFS(fd); err != nil {
		return nil, c.stats, err
	}
	rootEntry := &wim.Entry{SecurityID: -1}
	c.fill(rootEntry, &st, fd, false)
	c.setAttributes(rootEntry, wim.AttrDirectory)
	c.stats.Dirs++
	var old *wim.Entry
	if opts.Update != nil && opts.Update.Root != nil && opts.Update.Root.IsDir() {
		old = opts.Update.Root
	}
	if err := c.dir(fd, rootEntry, old); err != nil {
		return nil, c.stats, err
	}
	c.progress(true)
	m := &wim.Metadata{Root: rootEntry}
	if c.ntfs != nil {
		m.Security = c.ntfs.security
	}
	return m, c.stats, nil
}

type devIno struct{ dev, ino uint64 }

// skipSet stats the files of CaptureOptions.Skip.
func skipSet(paths []string) map[devIno]bool {
	set := map[devIno]bool{}
	for _, p := range paths {
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil {
			set[devIno{st.Dev, st.Ino}] = true
		}
	}
	return set
}

// entryWithUnix lets an entry and its UNIX data share one allocation.
type entryWithUnix struct {
	e wim.Entry
	u wim.UnixData
}

func newEntry(name string) *wim.Entry {
	p := &entryWithUnix{e: wim.Entry{Name: name, SecurityID: -1}}
	p.e.Unix = &p.u
	return &p.e
}

// capturer is the state of one capture walk; its buffers are reused for
// every file.
type capturer struct {
	ctx      context.Context
	sink     StreamSink
	opts     CaptureOptions
	cfg      *Config
	root     string
	absRoot  string
	realRoot string
	rootDev  uint64
	skip     map[devIno]bool
	procFD   bool
	curDir   int // descriptor of the directory whose entry is captured

	stats     CaptureStats
	links     map[devIno]*wim.Entry
	nextLink  uint64
	ticker    progressTicker
	noAtime   bool       // O_NOATIME was refused once
	noXattrAt bool       // read xattrs by path: listxattrat is missing (ENOSYS)
	ntfs      *ntfsState // an ntfs-3g mount: Windows metadata, no UNIX data

	rel     []byte // path of the current entry relative to root, no leading '/'
	xpath   []byte // NUL-terminated path for l*xattr calls
	dirents []byte
	xlist   []byte
	xval    []byte
	linkBuf []byte
	file    fileReader
	rdr     bytes.Reader
}

// dir reads the directory open as fd into e.Children, recursing.
func (c *capturer) dir(fd int, e *wim.Entry, old *wim.Entry) error {
	names, err := c.readNames(fd)
	if err != nil {
		c.warn(true, err)
		// Keep what could be read.
	}
	slices.SortFunc(names, wim.CompareNames)
	var oldChildren map[string]*wim.Entry
	if old != nil && len(old.Children) > 0 {
		oldChildren = make(map[string]*wim.Entry, len(old.Children))
		for _, ch := range old.Children {
			oldChildren[ch.Name] = ch
		}
	}
	relLen := len(c.rel)
	defer func() { c.rel = c.rel[:relLen] }()
	e.Children = make([]*wim.Entry, 0, len(names))
	for _, name := range names {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		c.rel = c.rel[:relLen]
		if relLen > 0 {
			c.rel = append(c.rel, '/')
		}
		c.rel = append(c.rel, name...)
		c.curDir = fd
		ch, err := c.entry(fd, name, oldChildren[name])
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

// readNames returns the names in the directory fd, "." and ".." excluded.
func (c *capturer) readNames(fd int) ([]string, error) {
	if c.dirents == nil {
		c.dirents = make([]byte, 64<<10)
	}
	return readDirNames(fd, c.dirents)
}

// entry captures the child name of the directory dfd. It returns nil for an
// excluded or skipped entry, and an error only to end the capture.
func (c *capturer) entry(dfd int, name string, old *wim.Entry) (*wim.Entry, error) {
	var st unix.Stat_t
	if err := fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if c.ntfs != nil && errors.Is(err, unix.EIO) && !c.cfg.Excluded(string(c.rel), false) {
			// ntfs-3g fails stat on reparse points it cannot resolve
			// (a junction to another volume); their data is still there.
			return c.ntfsReparse(dfd, newEntry(name), &st)
		}
		c.warn(true, fmt.Errorf("stat: %w", err))
		return nil, nil
	}
	mode := st.Mode & unix.S_IFMT
	if c.skip[devIno{st.Dev, st.Ino}] {
		return nil, nil
	}
	if c.cfg.Excluded(unsafe.String(unsafe.SliceData(c.rel), len(c.rel)), mode == unix.S_IFDIR) {
		return nil, nil
	}
	if !wim.NameIsValid(name) {
		c.warn(false, errors.New("name is not valid UTF-8; kept byte for byte with wim's escape"))
	}
	e := newEntry(name)
	switch mode {
	case unix.S_IFDIR:
		return c.subdir(dfd, e, &st, old)
	case unix.S_IFREG:
		return c.regular(dfd, e, &st, old)
	case unix.S_IFLNK:
		if c.ntfs != nil {
			return c.ntfsReparse(dfd, e, &st)
		}
		return c.symlink(dfd, e, &st)
	default:
		if c.opts.NoUnixData || c.ntfs != nil {
			c.warn(true, errors.New("special file skipped: it needs UNIX data"))
			return nil, nil
		}
		if c.joinLink(e, &st) {
			c.stats.Special++
			return e, nil
		}
		c.fill(e, &st, -1, true)
		c.stats.Special++
		return e, nil
	}
}

func (c *capturer) subdir(dfd int, e *wim.Entry, st *unix.Stat_t, old *wim.Entry) (*wim.Entry, error) {
	fd, err := c.openDir(dfd, e.Name, true)
	if err != nil {
		c.warn(true, fmt.Errorf("open directory: %w", err))
		return nil, nil
	}
	defer closeFD(fd)
	if err := fstat(fd, st); err != nil {
		c.warn(true, fmt.Errorf("stat: %w", err))
		return nil, nil
	}
	c.fill(e, st, fd, false)
	c.setAttributes(e, wim.AttrDirectory)
	c.stats.Dirs++
	if st.Dev != c.rootDev && !c.opts.CrossMounts {
		e.Children = []*wim.Entry{}
		return e, nil
	}
	if old != nil && !old.IsDir() {
		old = nil
	}
	return e, c.dir(fd, e, old)
}

func (c *capturer) displayPath() string {
	if len(c.rel) == 0 {
		return c.root
	}
	return filepath.Join(c.root, string(c.rel))
}

// warn reports a problem with the current entry; skipped tells whether
// the entry is left out.
func (c *capturer) warn(skipped bool, err error) {
	if skipped {
		c.stats.Skipped++
	} else {
		c.stats.Warnings++
	}
	if c.opts.Warn != nil {
		c.opts.Warn(c.displayPath(), err)
	}
}

func (c *capturer) progress(final bool) {
	if c.opts.Progress == nil {
		return
	}
	if !c.ticker.due(final) {
		return
	}
	c.opts.Progress(Progress{Files: c.stats.Files, Dirs: c.stats.Dirs, Bytes: c.stats.Bytes,
		Skipped: c.stats.Skipped, Path: c.displayPath()})
}
