//go:build unix

package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// This file holds how capture records an entry's metadata: times, UNIX
// data and xattrs.

// fillUnchanged fills e, a file whose signature (ctime included) equals the
// one recorded with old, the previous image's entry: times and UNIX data
// from st, xattrs from old without asking the file system, since any change
// of xattrs would have changed the ctime. Elsewhere it is fill.
func (c *capturer) fillUnchanged(e *wim.Entry, st *unix.Stat_t, old *wim.Entry) {
	if c.ntfs != nil || c.opts.NoUnixData || c.opts.Signatures == nil || old.Unix == nil {
		c.fill(e, st, -1, true)
		return
	}
	c.setTimes(e, st)
	if e.Unix == nil {
		e.Unix = new(wim.UnixData)
	}
	*e.Unix = wim.UnixData{UID: st.Uid, GID: st.Gid, Mode: st.Mode, Rdev: uint32(st.Rdev)}
	e.Xattrs = old.Xattrs
}

// fill sets times, UNIX data and xattrs of e from st. Xattrs are read from
// fd when it is not -1, else by path (final component not followed). On an
// ntfs-3g mount it sets the Windows metadata instead (see fillNTFS).
func (c *capturer) fill(e *wim.Entry, st *unix.Stat_t, fd int, byPath bool) {
	c.setTimes(e, st)
	if c.ntfs != nil {
		t := xattrTarget{fd: fd, dfd: -1}
		if byPath {
			t = c.xattrTarget()
		}
		c.fillNTFS(e, t)
		return
	}
	if c.opts.NoUnixData {
		e.Unix = nil
		return
	}
	if e.Unix == nil {
		e.Unix = new(wim.UnixData)
	}
	*e.Unix = wim.UnixData{UID: st.Uid, GID: st.Gid, Mode: st.Mode, Rdev: uint32(st.Rdev)}
	t := xattrTarget{fd: fd, dfd: -1}
	if byPath {
		t = c.xattrTarget()
	}
	xs, err := c.readXattrs(t, maxXattrValue)
	switch {
	case t.dfd < 0:
	case errors.Is(err, unix.ENOSYS): // a kernel before 6.13: paths from now on
		c.noXattrAt = true
		xs, err = c.readXattrs(c.xattrTarget(), maxXattrValue)
	case errors.Is(err, unix.EPERM): // perhaps a seccomp filter: try the path
		xs, err = c.readXattrs(xattrTarget{fd: -1, dfd: -1, name: c.xattrPath()}, maxXattrValue)
	}
	e.Xattrs = xs
	if err != nil {
		c.warn(false, err)
	}
}

// setTimes sets e's times from st: its creation time is its modification
// time, which Linux keeps no other. A time a WIM cannot hold (before 1601,
// or tens of thousands of years on) is stored as the nearest one it can,
// with a warning.
func (c *capturer) setTimes(e *wim.Entry, st *unix.Stat_t) {
	e.CreationTime = wim.FiletimeFromUnix(st.Mtim.Sec, st.Mtim.Nsec)
	e.LastWriteTime = e.CreationTime
	e.LastAccessTime = wim.FiletimeFromUnix(st.Atim.Sec, st.Atim.Nsec)
	var out []string
	for _, t := range []struct {
		what string
		sec  int64
		ft   wim.Filetime
	}{{"modification", st.Mtim.Sec, e.LastWriteTime}, {"access", st.Atim.Sec, e.LastAccessTime}} {
		if !wim.FiletimeHolds(t.sec) {
			out = append(out, fmt.Sprintf("%s time %s, stored as %s", t.what, unixTimeString(t.sec), t.ft.Time().Format(time.RFC3339)))
		}
	}
	if len(out) > 0 { // one warning for the entry
		c.warn(false, fmt.Errorf("out of the range of times a WIM holds (1601 to 60056): %s", strings.Join(out, "; ")))
	}
}

// unixTimeString formats sec seconds after the UNIX epoch, in UTC, or as
// a number of seconds where time.Time would not format it.
func unixTimeString(sec int64) string {
	if t := time.Unix(sec, 0).UTC(); t.Year() >= -9999 && t.Year() <= 99999 {
		return t.Format(time.RFC3339)
	}
	return strconv.FormatInt(sec, 10) + " s after 1970"
}

// xattrTarget names the current entry for reading its xattrs without
// following it: by its name in the directory being read when the kernel
// has listxattrat, else by a path (see xattrPath).
func (c *capturer) xattrTarget() xattrTarget {
	if c.noXattrAt {
		return xattrTarget{fd: -1, dfd: -1, name: c.xattrPath()}
	}
	c.xpath = append(c.xpath[:0], c.rel[bytes.LastIndexByte(c.rel, '/')+1:]...)
	c.xpath = append(c.xpath, 0)
	return xattrTarget{fd: -1, dfd: c.curDir, name: c.xpath}
}

// xattrPath returns a NUL-terminated path naming the current entry without
// following it, valid until the next call. It goes through the descriptor
// of the directory being read, which has no length limit, when /proc is
// mounted.
func (c *capturer) xattrPath() []byte {
	c.xpath = c.xpath[:0]
	if c.procFD {
		c.xpath = append(c.xpath, "/proc/self/fd/"...)
		c.xpath = strconv.AppendInt(c.xpath, int64(c.curDir), 10)
		c.xpath = append(c.xpath, '/')
		c.xpath = append(c.xpath, c.rel[bytes.LastIndexByte(c.rel, '/')+1:]...)
	} else {
		c.xpath = append(c.xpath, c.root...)
		c.xpath = append(c.xpath, '/')
		c.xpath = append(c.xpath, c.rel...)
	}
	return append(c.xpath, 0)
}
