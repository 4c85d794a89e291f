//go:build unix

package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// Capture walks the directory root and returns its image. Contents go to
// sink as they are read; the caller adds the returned Metadata to its WIM.
// The error is non-nil only when the capture could not finish: root is
// unreadable, the sink failed, or ctx was cancelled.
func Capture(ctx context.Context, root string, sink StreamSink, opts CaptureOptions) (*wim.Metadata, CaptureStats, error) {
	c := &capturer{ctx: ctx, sink: sink, opts: opts, root: root, cfg: opts.Config, noXattrAt: opts.pathXattrs}
	if c.cfg == nil {
		c.cfg = DefaultConfig()
	}
	if opts.ShadowCopy {
		return nil, c.stats, ErrNoShadowCopy
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
		return nil, c.stats, fmt.Errorf("capture root: %w", &os.PathError{Op: "open", Path: root, Err: err})
	}
	defer closeFD(fd)
	var st unix.Stat_t
	if err := fstat(fd, &st); err != nil {
		return nil, c.stats, fmt.Errorf("capture root: %w", &os.PathError{Op: "stat", Path: root, Err: err})
	}
	c.rootDev = st.Dev
	c.rootMnt = mountToCheck(fd)
	c.skip = skipSet(opts.Skip)
	if err := c.probeNTFS(fd); err != nil {
		return nil, c.stats, err
	}
	rootEntry := &wim.Entry{SecurityID: -1}
	c.fill(rootEntry, &st, fd, false)
	c.setAttributes(rootEntry, wim.AttrDirectory)
	c.stats.Dirs++
	stop, cancel := context.WithCancel(ctx)
	c.scans = c.startScan(fd, stop)
	defer drainScan(c.scans, c.kept)
	defer cancel() // before the drain: the scanner stops, then the channel empties
	if err := c.opts.prepare(); err != nil {
		return nil, c.stats, err
	}
	var old *wim.Entry
	if u := c.opts.Update; u != nil && u.Root != nil && u.Root.IsDir() {
		old = u.Root
	}
	ds, err := c.nextScan()
	if err != nil {
		return nil, c.stats, err
	}
	if err := c.dir(fd, ds, rootEntry, old); err != nil {
		return nil, c.stats, err
	}
	c.progress(true)
	m := &wim.Metadata{Root: rootEntry}
	if c.ntfs != nil {
		m.Security = c.ntfs.sec.list
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
	p := new(entryWithUnix)
	return p.reset(name)
}

// reset makes p a fresh entry named name and returns it.
func (p *entryWithUnix) reset(name string) *wim.Entry {
	*p = entryWithUnix{e: wim.Entry{Name: name, SecurityID: -1}}
	p.e.Unix = &p.u
	return &p.e
}

// own returns e, unless it is p's entry: then a copy of it that is its own.
func (p *entryWithUnix) own(e *wim.Entry) *wim.Entry {
	if e != &p.e {
		return e
	}
	c := &entryWithUnix{e: p.e, u: p.u}
	if c.e.Unix == &p.u {
		c.e.Unix = &c.u
	}
	return &c.e
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
	rootMnt  uint64 // the root's mount, when directories are checked against it (mountToCheck)
	skip     map[devIno]bool
	procFD   bool
	curDir   int             // descriptor of the directory whose entry is captured
	scans    <-chan *dirScan // from the scanner (capture_scan.go)
	kept     *keptDirs       // descriptors of dirScans the walk holds
	budget   *scanBudget

	walkReport
	links     map[devIno]*wim.Entry
	nextLink  uint64
	quiet     quietOpener
	noXattrAt bool       // read xattrs by path: listxattrat is missing (ENOSYS)
	ntfs      *ntfsState // an ntfs-3g mount: Windows metadata, no UNIX data

	// scratch is the entry of a regular file that may equal its entry in
	// the previous image, which then serves instead (see capturer.regular).
	scratch entryWithUnix
	// sigKept tells that the regular file being captured has the
	// signature Signatures holds for it, exactly (reusable sets it).
	sigKept bool

	rel     []byte // path of the current entry relative to root, no leading '/'
	xpath   []byte // NUL-terminated path for l*xattr calls
	xlist   []byte
	xval    []byte
	linkBuf []byte
	file    fileReader
	rdr     bytes.Reader
}

// dir captures the directory fd, scanned as ds, into e.Children,
// recursing.
func (c *capturer) dir(fd int, ds *dirScan, e *wim.Entry, old *wim.Entry) error {
	if ds.readErr != nil {
		c.warn(true, ds.readErr)
		// Keep what could be read.
	}
	oldChildren := childrenByName(old)
	relLen := len(c.rel)
	defer func() { c.rel = c.rel[:relLen] }()
	e.Children = make([]*wim.Entry, 0, len(ds.entries))
	for i := range ds.entries {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		se := &ds.entries[i]
		c.rel = c.rel[:relLen]
		if relLen > 0 {
			c.rel = append(c.rel, '/')
		}
		c.rel = append(c.rel, se.name...)
		c.curDir = fd
		ch, err := c.entry(fd, se, oldChildren[se.name])
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

// entry captures se, a child of the directory dfd. It returns nil for an
// excluded or skipped entry, and an error only to end the capture.
func (c *capturer) entry(dfd int, se *scanEntry, old *wim.Entry) (*wim.Entry, error) {
	name, st := se.name, se.st
	if err := se.err; err != nil {
		if c.ntfs != nil && errors.Is(err, unix.EIO) && !c.cfg.Excluded(string(c.rel), false) {
			// ntfs-3g fails stat on reparse points it cannot resolve
			// (a junction to another volume); their data is still there.
			return c.ntfsReparse(dfd, newEntry(name), &st)
		}
		c.warn(true, fmt.Errorf("stat: %w", err))
		return nil, nil
	}
	if se.skip {
		return nil, nil
	}
	if old == nil && !wim.NameIsValid(name) { // a name the previous image had was warned about then
		c.warn(false, errors.New("name is not valid UTF-8; kept byte for byte with wim's escape"))
	}
	var e *wim.Entry
	if st.Mode&unix.S_IFMT == unix.S_IFREG && st.Nlink < 2 && old != nil {
		// Such a file's entry mostly equals its previous one, which then
		// serves (see regular): it is built in scratch space first.
		e = c.scratch.reset(name)
	} else {
		e = newEntry(name)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return c.subdir(dfd, se, e, &st, old)
	case unix.S_IFREG:
		e, err := c.regular(dfd, e, &st, old)
		return c.scratch.own(e), err
	case unix.S_IFLNK:
		if c.ntfs != nil {
			return c.ntfsReparse(dfd, e, &st)
		}
		return c.symlink(dfd, e, &st, old)
	default:
		switch {
		case c.ntfs != nil:
			c.warn(true, errors.New("special file skipped: it needs UNIX data"))
			return nil, nil
		case c.opts.NoUnixData:
			// Left out as asked (as wimlib-imagex without --unix-data
			// excludes it): a warning, not a skipped file that would
			// make the capture partial.
			c.warn(false, errors.New("special file left out: it needs UNIX data"))
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

// subdir captures the directory e of se in dfd, whose dirScan is the next
// the scanner sends.
func (c *capturer) subdir(dfd int, se *scanEntry, e *wim.Entry, st *unix.Stat_t, old *wim.Entry) (*wim.Entry, error) {
	ds, err := c.nextScan()
	if err != nil {
		return nil, err
	}
	defer c.kept.give(ds)
	if ds.of != se {
		return nil, fmt.Errorf("internal error: the directory scan is out of step at %s", c.displayPath())
	}
	if ds.openErr != nil {
		if xerr := exhausted(ds.openErr); xerr != nil {
			return nil, fmt.Errorf("%s: %w", c.displayPath(), xerr)
		}
		c.warn(true, ds.openErr)
		return nil, nil
	}
	if c.opts.beforeDir != nil {
		c.opts.beforeDir(c.displayPath())
	}
	fd, own, err := c.openScanned(dfd, e.Name, ds, st)
	if err != nil {
		if xerr := exhausted(err); xerr != nil {
			return nil, errors.Join(fmt.Errorf("%s: %w", c.displayPath(), xerr), c.skipScans(ds))
		}
		c.warn(true, err)
		return nil, c.skipScans(ds)
	}
	if own {
		defer closeFD(fd)
	}
	c.fill(e, st, fd, false)
	c.setAttributes(e, wim.AttrDirectory)
	c.stats.Dirs++
	if ds.foreign {
		e.Children = []*wim.Entry{}
		return e, nil
	}
	if old != nil && !old.IsDir() {
		old = nil
	}
	return e, c.dir(fd, ds, e, old)
}

// openScanned returns a descriptor of the directory name in dfd, scanned
// as ds, and its stat in st: the scanner's when it handed it over (valid
// until the walk gives ds back), else one it opens and checks against the
// scan, which the caller closes (own). The scanner's is refused once the
// directory has been removed; moved or renamed since the scan, it is
// captured as scanned, under the name it had.
func (c *capturer) openScanned(dfd int, name string, ds *dirScan, st *unix.Stat_t) (fd int, own bool, err error) {
	if ds.walkFD {
		if err := fstat(ds.fd, st); err != nil {
			return -1, false, fmt.Errorf("stat: %w", err)
		}
		if st.Nlink == 0 {
			return -1, false, fmt.Errorf("open directory: directory was removed during capture (%w)", unix.ENOENT)
		}
		return ds.fd, false, nil
	}
	fd, err = c.openDir(dfd, name, true)
	if err != nil {
		return -1, false, fmt.Errorf("open directory: %w", replacedDir(err))
	}
	if err := fstat(fd, st); err != nil {
		closeFD(fd)
		return -1, false, fmt.Errorf("stat: %w", err)
	}
	if st.Ino != ds.st.Ino || st.Dev != ds.st.Dev {
		closeFD(fd)
		return -1, false, errors.New("directory was replaced during capture")
	}
	return fd, true, nil
}

// skipScans takes the dirScans of the directories below ds, a directory
// the walk leaves out, so that it stays in step with the scanner.
func (c *capturer) skipScans(ds *dirScan) error {
	for i := range ds.entries {
		if !ds.entries[i].descend {
			continue
		}
		sub, err := c.nextScan()
		if err != nil {
			return err
		}
		c.kept.give(sub)
		if err := c.skipScans(sub); err != nil {
			return err
		}
	}
	return nil
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
	c.walkReport.warn(&c.opts, c.displayPath(), skipped, err)
}

func (c *capturer) progress(final bool) {
	c.walkReport.progress(&c.opts, final, c.displayPath)
}

// exhausted returns the error that ends a capture or an apply when err
// says that the process ran out of file descriptors (EMFILE, ENFILE),
// else nil. Skipping what could not be opened, as an unreadable file is,
// stored a snapshot with whole directories missing, which a rollback with
// --delete then deleted from the tree.
func exhausted(err error) error {
	if errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) {
		return fmt.Errorf("%w (raise the limit of open files: ulimit -n, or LimitNOFILE= in a systemd unit; "+
			"a capture or an apply holds about one per directory level, and a few per thread)", err)
	}
	return nil
}
