//go:build unix

package snapshot

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
)

// This file holds how capture reads what a file holds: regular files (or
// their reuse from the previous image), hard links and symlinks.

// joinLink handles the second and later names of a hard-linked inode: it
// copies the first name's entry into e and reports true. For the first
// name it records e and reports false.
func (c *capturer) joinLink(e *wim.Entry, st *unix.Stat_t) bool {
	if st.Nlink < 2 {
		return false
	}
	key := devIno{st.Dev, st.Ino}
	first := c.links[key]
	if first == nil {
		if c.links == nil {
			c.links = make(map[devIno]*wim.Entry)
		}
		c.links[key] = e
		return false
	}
	if first.LinkID == 0 {
		c.nextLink++
		first.LinkID = c.nextLink
	}
	name := e.Name
	*e = *first
	e.Name = name
	return true
}

func (c *capturer) regular(dfd int, e *wim.Entry, st *unix.Stat_t, old *wim.Entry) (*wim.Entry, error) {
	if c.joinLink(e, st) {
		if c.ntfs != nil {
			c.ntfsLinkName(e)
		}
		c.stats.Files++
		return e, nil
	}
	ok, err := c.readRegular(dfd, e, st, old)
	if !ok {
		if st.Nlink > 1 {
			delete(c.links, devIno{st.Dev, st.Ino})
		}
		return nil, err
	}
	if st.Nlink < 2 && sameEntry(e, old) {
		// The previous image's entry serves: an incremental snapshot then
		// holds one entry for each unchanged file, not two.
		e = old
	}
	c.stats.Files++
	c.stats.Bytes += st.Size
	if c.opts.OnFile != nil {
		c.opts.OnFile(c.rel, sigOf(st), c.sigKept)
	}
	return e, nil
}

// sameEntry reports whether e, a regular file's new entry, equals old in
// every field, its xattrs being old's own (as fillUnchanged takes them).
// Only entries without hard links, extra data or children qualify.
func sameEntry(e, old *wim.Entry) bool {
	return old != nil && e.Name == old.Name && e.Attributes == old.Attributes && e.SecurityID == old.SecurityID &&
		e.CreationTime == old.CreationTime && e.LastAccessTime == old.LastAccessTime &&
		e.LastWriteTime == old.LastWriteTime && e.Data == old.Data && e.LinkID == 0 && old.LinkID == 0 &&
		e.Unix != nil && old.Unix != nil && *e.Unix == *old.Unix &&
		len(e.Xattrs) == len(old.Xattrs) && (len(e.Xattrs) == 0 || &e.Xattrs[0] == &old.Xattrs[0]) &&
		e.Ext == nil && old.Ext == nil && e.Children == nil && old.Children == nil
}

// sigOf is the signature of a file for CaptureOptions.Signatures.
func sigOf(st *unix.Stat_t) index.Sig {
	return index.Sig{Size: st.Size, MtimeNs: st.Mtim.Nano(), CtimeNs: st.Ctim.Nano(),
		Ino: st.Ino, Dev: st.Dev, Mode: st.Mode}
}

// readRegular fills e for a regular file, reading it unless Update has it.
// It reports false for a skipped file.
func (c *capturer) readRegular(dfd int, e *wim.Entry, st *unix.Stat_t, old *wim.Entry) (bool, error) {
	if c.reusable(st, old) {
		c.fillUnchanged(e, st, old)
		c.setAttributes(e, fileAttributes(st))
		e.Data = old.Data
		if named := old.NamedStreams(); named != nil && c.ntfs == nil {
			e.Ext = &wim.EntryExt{Named: named}
		}
		c.stats.Reused++
		return true, nil
	}
	if c.opts.beforeOpen != nil {
		c.opts.beforeOpen(c.displayPath())
	}
	if st.Size == 0 {
		// Not opened: one gone since the scan is skipped as a file that
		// cannot be opened is, not kept with its xattrs failing.
		var now unix.Stat_t
		if err := fstatat(dfd, e.Name, &now, unix.AT_SYMLINK_NOFOLLOW); errors.Is(err, unix.ENOENT) {
			c.warn(true, fmt.Errorf("open: %w", err))
			return false, nil
		}
		c.fill(e, st, -1, true)
		c.setAttributes(e, fileAttributes(st))
		return true, nil
	}
	fd, err := c.openFile(dfd, e.Name)
	if err != nil {
		if xerr := exhausted(err); xerr != nil {
			return false, fmt.Errorf("%s: open: %w", c.displayPath(), xerr)
		}
		c.warn(true, fmt.Errorf("open: %w", err))
		return false, nil
	}
	defer closeFD(fd)
	// st stays the scanned status until the open file is accepted: the
	// caller forgets a skipped file's link group by it.
	var now unix.Stat_t
	if err := fstat(fd, &now); err != nil || now.Dev != st.Dev || now.Mode&unix.S_IFMT != unix.S_IFREG {
		c.warn(true, errors.New("file was replaced during capture"))
		return false, nil
	}
	if now.Ino != st.Ino {
		if st.Nlink > 1 || now.Nlink > 1 { // its names belong to other link groups
			c.warn(true, errors.New("file was replaced during capture"))
			return false, nil
		}
		// Another file was renamed to the name since the scan (a log
		// rotated): the file now there is captured, as a later snapshot
		// would find it, rather than none.
		c.warn(false, errors.New("file was replaced during capture; the new file is captured"))
	}
	*st = now
	if c.opts.afterOpen != nil {
		c.opts.afterOpen(c.displayPath())
	}
	// The xattrs come from the open file, as the contents do: by name they
	// could be another file's, renamed over this one meanwhile.
	c.fill(e, st, fd, false)
	c.setAttributes(e, fileAttributes(st))
	c.file.reset(c.ctx, fd, st.Size, e.Attributes&wim.AttrSparseFile != 0)
	if b, ok := c.sink.(baseSetter); ok && old != nil && !old.Data.Hash.IsZero() {
		b.setBase(old.Data.Hash)
	}
	rel := unsafe.String(unsafe.SliceData(c.rel), len(c.rel)) // fileSink keeps no reference
	h, err := fileSink(c.sink, c.cfg, rel).AddStream(&c.file, st.Size)
	c.stats.BytesRead += c.file.read
	switch {
	case c.ctx.Err() != nil:
		return false, c.ctx.Err()
	case c.file.err != nil:
		c.warn(true, fmt.Errorf("read: %w", c.file.err))
		return false, nil
	case errors.Is(err, wim.ErrSizeChanged):
		c.warn(true, err)
		return false, nil
	case err != nil:
		return false, fmt.Errorf("storing %s: %w", c.displayPath(), err)
	}
	c.sizeCheck(fd, st)
	e.Data = wim.Stream{Hash: h, Size: st.Size}
	c.stats.Read++
	return true, nil
}

// sizeCheck warns when the open file fd, read whole at the size st gave
// when it was opened, has another size now, or was written meanwhile. The
// stream read stays: for a file that grows as it is written (a log), it
// is the file as it was when opened, and a newer image takes the rest, as
// its size no longer matches; one rewritten in place may mix old and new
// contents, and a snapshot's next run reads it again, as its times no
// longer match. (A file that shrinks while it is read ends the read
// early and is skipped.)
func (c *capturer) sizeCheck(fd int, st *unix.Stat_t) {
	var now unix.Stat_t
	switch {
	case fstat(fd, &now) != nil:
	case now.Size != st.Size:
		c.warn(false, fmt.Errorf("%w: %d bytes, now %d; the %d bytes it had when opened are kept",
			wim.ErrSizeChanged, st.Size, now.Size, st.Size))
	case now.Mtim != st.Mtim: // not the change time, which a rename, chmod or link moves too
		c.warn(false, errors.New("written while it was read: what was stored may mix old and new contents (a snapshot's next run reads it again)"))
	}
}

// reusable reports whether the old entry of the same path has the streams
// of the file st describes.
func (c *capturer) reusable(st *unix.Stat_t, old *wim.Entry) bool {
	c.sigKept = false
	if old == nil || old.IsDir() || old.IsReparse() || old.Data.Size != st.Size {
		return false
	}
	if old.LastWriteTime != wim.FiletimeFromUnix(st.Mtim.Sec, st.Mtim.Nsec) || !wim.FiletimeHolds(st.Mtim.Sec) {
		return false // a clamped time tells no two times apart
	}
	if u := old.Unix; u != nil && (u.Mode != st.Mode || u.UID != st.Uid || u.GID != st.Gid) {
		return false
	}
	if st.Size > 0 && !c.opts.held(c.sink, old.Data) {
		return false
	}
	for _, s := range old.NamedStreams() {
		if !s.Hash.IsZero() && !c.opts.held(c.sink, s) {
			return false
		}
	}
	if c.opts.Signatures != nil {
		sig, ok := c.opts.Signatures.Lookup(c.rel)
		cur := sigOf(st)
		c.sigKept = ok && sig == cur
		return ok && sameFile(sig, cur)
	}
	return true
}

// sameFile reports whether two signatures name the same unchanged file.
// The device number is left out: an LVM or btrfs snapshot mounted afresh
// for each run keeps every inode number, time and size, but gets a new
// device number each time, and its files must not all be read again.
func sameFile(a, b index.Sig) bool {
	a.Dev, b.Dev = 0, 0
	return a == b
}

func fileAttributes(st *unix.Stat_t) uint32 {
	if st.Blocks*512 < st.Size {
		return wim.AttrSparseFile
	}
	return wim.AttrNormal
}

// openFile opens the regular file name in dfd for reading, without
// following a symlink and, when permitted, without updating its atime.
func (c *capturer) openFile(dfd int, name string) (int, error) {
	return c.quiet.open(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK)
}

// openDir is openDir without updating the directory's atime when
// permitted, so that reading a tree leaves the atimes it records as they
// were and the next snapshot of it sees the same metadata.
func (c *capturer) openDir(dfd int, name string, noFollow bool) (int, error) {
	return c.quiet.openDir(dfd, name, noFollow)
}

// quietOpener opens files with O_NOATIME, which only the file's owner (or
// a privileged process) may use: after the first EPERM it opens without
// it from then on. Each goroutine of a capture has its own.
type quietOpener struct {
	refused bool
}

func (q *quietOpener) openDir(dfd int, name string, noFollow bool) (int, error) {
	flags := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	if noFollow {
		flags |= unix.O_NOFOLLOW
	}
	return q.open(dfd, name, flags)
}

// open opens name in dfd with flags plus O_NOATIME while permitted.
func (q *quietOpener) open(dfd int, name string, flags int) (int, error) {
	for {
		f := flags
		if !q.refused {
			f |= unix.O_NOATIME
		}
		fd, err := unix.Openat(dfd, name, f, 0)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EPERM && !q.refused:
			q.refused = true
			continue
		}
		return fd, err
	}
}

// symlink captures the symlink e. One whose signature is the one recorded
// with old, the previous image's symlink at the same path, keeps old's
// reparse data without reading its target: a symlink's target cannot change
// in place, so a new target means a new inode or ctime.
func (c *capturer) symlink(dfd int, e *wim.Entry, st *unix.Stat_t, old *wim.Entry) (*wim.Entry, error) {
	if c.linkReusable(st, old) {
		c.fillUnchanged(e, st, old)
		x := old.Ext
		e.Ext = &wim.EntryExt{ReparseTag: wim.ReparseTagSymlink, ReparseFlags: x.ReparseFlags, Reparse: x.Reparse}
	} else {
		ext, err := c.readSymlink(dfd, e.Name, st)
		if ext == nil {
			return nil, err
		}
		c.fill(e, st, -1, true)
		e.Ext = ext
	}
	e.Attributes = wim.AttrReparsePoint
	var tst unix.Stat_t
	if fstatat(dfd, e.Name, &tst, 0) == nil && tst.Mode&unix.S_IFMT == unix.S_IFDIR {
		e.Attributes |= wim.AttrDirectory
	}
	c.stats.Symlinks++
	if c.opts.OnFile != nil {
		c.opts.OnFile(c.rel, sigOf(st), c.sigKept)
	}
	return e, nil
}

// readSymlink reads the target of the symlink name in dfd and stores it as
// reparse data. It returns nil for a link that could not be read (warned
// about), with an error only when storing failed.
func (c *capturer) readSymlink(dfd int, name string, st *unix.Stat_t) (*wim.EntryExt, error) {
	if c.opts.beforeOpen != nil {
		c.opts.beforeOpen(c.displayPath())
	}
	target, err := c.readlink(dfd, name)
	if err != nil {
		if errors.Is(err, unix.EINVAL) { // no longer a symlink
			err = errors.New("symlink was replaced during capture")
		}
		c.warn(true, fmt.Errorf("readlink: %w", err))
		return nil, nil
	}
	// readlink may update the link's atime (there is no O_NOATIME for it):
	// record the atime it leaves, which the next readlink keeps under
	// relatime, so an unchanged link gives unchanged metadata.
	var after unix.Stat_t
	if fstatat(dfd, name, &after, unix.AT_SYMLINK_NOFOLLOW) == nil && after.Ino == st.Ino && after.Dev == st.Dev {
		st.Atim = after.Atim
	}
	data, rpFlags := wim.SymlinkReparse(target, c.absRoot)
	if rpFlags != 0 && c.realRoot != "" && c.realRoot != c.absRoot {
		data, rpFlags = wim.SymlinkReparse(target, c.realRoot)
	}
	h, err := c.storeBytes(data)
	if err != nil {
		return nil, err
	}
	return &wim.EntryExt{ReparseTag: wim.ReparseTagSymlink, ReparseFlags: rpFlags,
		Reparse: wim.Stream{Hash: h, Size: int64(len(data))}}, nil
}

// linkReusable reports whether old, the previous image's entry at the same
// path, holds the reparse data of the symlink st describes: a symlink
// whose data the sink holds, with the signature recorded for the path.
// The data of an absolute target depends on the capture root, so a root
// reached through a symlink, which may lead elsewhere from one run to the
// next, reuses nothing.
func (c *capturer) linkReusable(st *unix.Stat_t, old *wim.Entry) bool {
	c.sigKept = false
	if c.opts.Signatures == nil || old == nil || old.Ext == nil || old.Ext.ReparseTag != wim.ReparseTagSymlink ||
		c.realRoot != c.absRoot || !c.opts.held(c.sink, old.Ext.Reparse) ||
		old.Ext.Reparse.Size > wim.MaxReparseData { // stored by a wimsnap before print names were dropped to fit
		return false
	}
	sig, ok := c.opts.Signatures.Lookup(c.rel)
	cur := sigOf(st)
	c.sigKept = ok && sig == cur
	return ok && sameFile(sig, cur)
}

func (c *capturer) readlink(dfd int, name string) (string, error) {
	if c.linkBuf == nil {
		c.linkBuf = make([]byte, 4096)
	}
	for {
		n, err := unix.Readlinkat(dfd, name, c.linkBuf)
		if err != nil {
			return "", err
		}
		if n < len(c.linkBuf) {
			return string(c.linkBuf[:n]), nil
		}
		c.linkBuf = make([]byte, 2*len(c.linkBuf))
	}
}

// storeBytes stores data, a stream read whole (reparse data, a named
// stream), in the sink.
func (c *capturer) storeBytes(data []byte) (wim.Hash, error) {
	c.rdr.Reset(data)
	h, err := c.sink.AddStream(&c.rdr, int64(len(data)))
	if err != nil {
		return h, fmt.Errorf("storing %s: %w", c.displayPath(), err)
	}
	return h, nil
}
