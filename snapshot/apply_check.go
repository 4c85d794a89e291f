//go:build unix

package snapshot

import (
	"math"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// This file holds how a restore in place shares the checks of the regular
// files it finds between the walk and a second goroutine. A rollback that
// changed little spends most of its time learning that files are unchanged
// (a stat and an xattr listing each); those checks only read, so the
// helper takes them from the end of the tree while the walk takes them
// from the start, each claiming a file before checking it. Where they
// meet, the helper stops.
//
// Files are numbered in the order the walk reaches them: the regular
// files of the tree in pre-order. A directory's files are numbered from
// where the walk enters it, and the walk, passing a directory, counts all
// the files below it (sharedCheck.counts) whether or not it walked them,
// so the numbers stay the helper's even when the walk skips a subtree.

// Claims on a fileCheck.
const (
	checkFree   = iota // not taken yet
	checkWalk          // the walk checks it itself
	checkHelper        // the helper checks it, or has
)

// fileCheck is what the helper found for one regular file: whether the
// name exists, the parts of its stat that the walk uses, and whether
// sameFile holds.
type fileCheck struct {
	claim atomic.Uint32
	found bool
	same  bool
	mode  uint32
	nlink uint32
	size  int64
	ino   uint64
	dev   uint64
}

// sharedCheck is the helper's side of a restore in place.
type sharedCheck struct {
	files  []fileCheck        // by number
	counts map[*wim.Entry]int // regular files below each directory
	done   chan struct{}      // closed when the helper has stopped
	stop   atomic.Bool        // set to stop the helper early
}

// startCheck starts the helper for a restore in place of the tree below
// root, or returns nil when there is none (not in place, NTFS, or an empty
// target (a.fresh), where there is nothing to check and its memory, 40
// bytes a file, would be spent for nothing).
func (a *applier) startCheck(root *wim.Entry) *sharedCheck {
	if !a.inPlace() || a.ntfs != nil {
		return nil
	}
	c := &sharedCheck{counts: make(map[*wim.Entry]int), done: make(chan struct{})}
	n := c.count(a, root)
	if n == 0 {
		return nil
	}
	c.files = make([]fileCheck, n)
	go c.run(a, root)
	if a.opts.checkFirst {
		<-c.done
	}
	return c
}

// emptyDir reports whether the directory fd holds no entry; it reads a
// descriptor of its own, leaving fd's position alone.
func emptyDir(fd int) bool {
	d, err := openDir(fd, ".", true)
	if err != nil {
		return false
	}
	defer closeFD(d)
	var buf [1024]byte
	n, err := unix.Getdents(d, buf[:])
	if err != nil || n < 0 {
		return false
	}
	empty := true
	if eachDirent(buf[:n], func([]byte) { empty = false }) != nil {
		return false
	}
	return empty
}

// count fills c.counts below dir and returns its count.
func (c *sharedCheck) count(a *applier, dir *wim.Entry) int {
	n := 0
	for _, ch := range dir.Children {
		switch {
		case ch.IsDir():
			n += c.count(a, ch)
		case a.isRegular(ch):
			n++
		}
	}
	c.counts[dir] = n
	return n
}

// isRegular reports whether e, not a directory, is created as a regular
// file.
func (a *applier) isRegular(e *wim.Entry) bool {
	return !e.IsReparse() && a.specialType(e) == 0
}

// run checks files from the last until it meets one the walk claimed.
func (c *sharedCheck) run(a *applier, root *wim.Entry) {
	defer close(c.done)
	var x xattrBufs
	path := make([]string, 0, 16)
	c.dir(a, &x, a.rootFD, root, len(c.files), path)
}

// dir checks the files below the directory dir, open as dfd, whose files
// are numbered up to end (excluded), from the last. It reports whether to
// go on.
func (c *sharedCheck) dir(a *applier, x *xattrBufs, dfd int, dir *wim.Entry, end int, path []string) bool {
	kids := dir.Children
	for i := len(kids) - 1; i >= 0; i-- {
		ch := kids[i]
		if c.stop.Load() {
			return false
		}
		switch {
		case ch.IsDir():
			n := c.counts[ch]
			if n > 0 && !c.subdir(a, x, dfd, ch, end, append(path, ch.Name)) {
				return false
			}
			end -= n
		case a.isRegular(ch):
			end--
			if !c.file(a, x, dfd, ch, end, append(path, ch.Name)) {
				return false
			}
		}
	}
	return true
}

// subdir opens the directory e in dfd and checks the files below it,
// numbered up to end; one that does not open is left to the walk.
func (c *sharedCheck) subdir(a *applier, x *xattrBufs, dfd int, e *wim.Entry, end int, path []string) bool {
	if checkName(e.Name) != nil {
		return true
	}
	fd, err := openDir(dfd, e.Name, true)
	if err != nil {
		return true
	}
	defer closeFD(fd)
	return c.dir(a, x, fd, e, end, path)
}

// file claims and checks file number n, e in dfd, and reports whether
// the walk had not claimed it.
func (c *sharedCheck) file(a *applier, x *xattrBufs, dfd int, e *wim.Entry, n int, path []string) bool {
	if checkName(e.Name) != nil {
		return true
	}
	f := &c.files[n]
	if !f.claim.CompareAndSwap(checkFree, checkHelper) {
		return false
	}
	var st unix.Stat_t
	if fstatat(dfd, e.Name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return true
	}
	f.found, f.mode, f.size, f.ino, f.dev = true, st.Mode, st.Size, st.Ino, st.Dev
	f.nlink = uint32(min(uint64(st.Nlink), math.MaxUint32))
	f.same = st.Mode&unix.S_IFMT == unix.S_IFREG && a.sameFile(x, dfd, e, &st, path)
	return true
}

// filesIn returns how many files e is or holds: the regular files
// below it for a directory, 1 for a regular file, else 0. c may be nil.
func (c *sharedCheck) filesIn(a *applier, e *wim.Entry) int {
	switch {
	case c == nil:
		return 0
	case e.IsDir():
		return c.counts[e]
	case a.isRegular(e):
		return 1
	}
	return 0
}

// take returns the helper's finding for file number n, waiting for it,
// or nil when the walk is to check it itself. c may be nil.
func (c *sharedCheck) take(n int) *fileCheck {
	if c == nil || n >= len(c.files) {
		return nil
	}
	f := &c.files[n]
	if f.claim.CompareAndSwap(checkFree, checkWalk) {
		return nil
	}
	<-c.done // it stops at the next file, which the walk has claimed
	return f
}

// end stops the helper and returns once it has. c may be nil.
func (c *sharedCheck) end() {
	if c == nil {
		return
	}
	c.stop.Store(true)
	<-c.done
}

// setNlink sets a link count, whose type Stat_t varies with the platform.
func setNlink[T uint16 | uint32 | uint64](p *T, n uint32) { *p = T(n) }

// stat returns the stat the helper found, with the fields the walk uses.
func (f *fileCheck) stat() unix.Stat_t {
	st := unix.Stat_t{Mode: f.mode, Size: f.size, Ino: f.ino, Dev: f.dev}
	setNlink(&st.Nlink, f.nlink)
	return st
}
