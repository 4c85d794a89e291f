//go:build unix

package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// This file holds capture from an NTFS volume mounted with ntfs-3g: the
// Windows metadata ntfs-3g exposes as extended attributes takes the place
// of UNIX data.
//
//	system.ntfs_attrib        u32 FILE_ATTRIBUTE_* bits
//	system.ntfs_times         four FILETIMEs: creation, last write, last
//	                          access, last MFT change
//	system.ntfs_acl           the self-relative security descriptor
//	system.ntfs_dos_name      the DOS (8.3) name, if the file has one
//	system.ntfs_reparse_data  the reparse buffer, header included
//	user.NAME                 named data stream NAME (streams_interface=xattr,
//	                          ntfs-3g's default)
//
// The system.* names are not listed by listxattr; they are asked for.

// Extended attributes of ntfs-3g.
var (
	xNTFSAttrib  = []byte("system.ntfs_attrib")
	xNTFSTimes   = []byte("system.ntfs_times")
	xNTFSACL     = []byte("system.ntfs_acl")
	xNTFSDosName = []byte("system.ntfs_dos_name")
	xNTFSReparse = []byte("system.ntfs_reparse_data")
	xNTFSObjID   = []byte("system.ntfs_object_id")
)

// ntfsState is what an NTFS capture keeps across entries: the security
// descriptors seen, each stored once.
type ntfsState struct {
	sec securityTable
}

// probeNTFS decides the mode for the root directory fd.
func (c *capturer) probeNTFS(fd int) error {
	if c.opts.NTFS == NTFSOff {
		return nil
	}
	_, err := c.getXattr(xattrTarget{fd: fd, dfd: -1}, xNTFSAttrib)
	if err != nil {
		if c.opts.NTFS == NTFSOn {
			return fmt.Errorf("%s: %w", c.root, ErrNotNTFS)
		}
		return nil
	}
	c.ntfs = &ntfsState{}
	// ntfs-3g answers a buffer too small for a descriptor with EIO, not
	// ERANGE: start with room for the largest one (64 KiB).
	c.xval = make([]byte, 1<<16)
	return nil
}

// fillNTFS sets e's attributes, times, security descriptor, short name and
// named streams from ntfs-3g's attributes of t. A piece that cannot be read
// is a warning; the entry keeps what stat gave for it.
func (c *capturer) fillNTFS(e *wim.Entry, t xattrTarget) {
	e.Unix, e.Xattrs = nil, nil
	var errs []error
	get := func(name []byte) []byte {
		v, err := c.ntfsXattr(&t, name)
		// No DOS name is ENODATA, or EPERM for the root directory.
		absent := errors.Is(err, unix.ENODATA) || errors.Is(err, unix.EPERM) && bytes.Equal(name, xNTFSDosName)
		switch {
		case err == nil || absent:
		case errors.Is(err, unix.EMLINK) && bytes.Equal(name, xNTFSDosName):
			errs = append(errs, errors.New("ntfs-3g does not give the DOS name of a file with several hard links; it is left out"))
		default:
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		return v
	}
	if v := get(xNTFSAttrib); len(v) == 4 {
		e.Attributes = binary.LittleEndian.Uint32(v)
	}
	if v := get(xNTFSTimes); len(v) >= 24 {
		e.CreationTime = wim.Filetime(binary.LittleEndian.Uint64(v))
		e.LastWriteTime = wim.Filetime(binary.LittleEndian.Uint64(v[8:]))
		e.LastAccessTime = wim.Filetime(binary.LittleEndian.Uint64(v[16:]))
	}
	if v := get(xNTFSACL); len(v) > 0 {
		e.SecurityID = c.ntfs.sec.id(v)
	}
	if v := get(xNTFSDosName); len(v) > 0 {
		e.Ext = &wim.EntryExt{ShortName: string(v)}
	}
	if v := get(xNTFSObjID); len(v) > 0 { // the $OBJECT_ID attribute, as wimlib stores it
		entryExt(e).ObjectID = v
	}
	if len(errs) > 0 {
		c.warn(false, joinErrs(errs...))
	}
	if err := c.namedStreams(e, t); err != nil {
		c.warn(true, err) // data left out: the run is partial
	}
}

// ntfsLinkName gives e, a further name of a hard-linked file whose fields
// were copied from its first name, its own DOS name: NTFS keeps a DOS name
// per name, not per file.
func (c *capturer) ntfsLinkName(e *wim.Entry) {
	t := c.xattrTarget()
	v, err := c.ntfsXattr(&t, xNTFSDosName)
	if err != nil && !errors.Is(err, unix.ENODATA) && !errors.Is(err, unix.EMLINK) { // EMLINK: see fillNTFS
		c.warn(false, fmt.Errorf("%s: %w", xNTFSDosName, err))
	}
	if e.Ext == nil && len(v) == 0 {
		return
	}
	x := wim.EntryExt{}
	if e.Ext != nil {
		x = *e.Ext // the first name's; not shared
	}
	x.ShortName = string(v)
	e.Ext = &x
}

// ntfsXattr reads one xattr of t, falling back to a path once the kernel
// turns out to lack getxattrat; the value is a copy.
func (c *capturer) ntfsXattr(t *xattrTarget, name []byte) ([]byte, error) {
	v, err := c.getXattr(*t, name)
	if t.dfd >= 0 && errors.Is(err, unix.ENOSYS) {
		c.noXattrAt = true
		*t = c.xattrTarget()
		v, err = c.getXattr(*t, name)
	}
	return bytes.Clone(v), err
}

// namedStreams stores the user.* xattrs of t, which ntfs-3g maps to named
// streams (with streams_interface=xattr, its default). A stream that
// cannot be read costs only itself: the others are kept, and the error
// names it. ntfs-3g cannot show a stream over 64 KiB (the kernel's xattr
// limit) this way; getxattr then fails with E2BIG.
func (c *capturer) namedStreams(e *wim.Entry, t xattrTarget) error {
	xs, err := c.readXattrs(t, 1<<16)
	switch {
	case errors.Is(err, unix.E2BIG):
		err = fmt.Errorf("named streams over 64 KiB cannot be read through ntfs-3g and are left out: %w", err)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EOPNOTSUPP):
		err = fmt.Errorf("named streams cannot be listed (is the volume mounted with ntfs-3g's default streams_interface=xattr?): %w", err)
	case err != nil:
		err = fmt.Errorf("named streams left out: %w", err)
	}
	for _, x := range xs {
		name, ok := strings.CutPrefix(x.Name, "user.")
		if !ok || name == "" {
			continue
		}
		h, serr := c.storeBytes(x.Value)
		if serr != nil {
			return fmt.Errorf("stream %q: %w", name, serr)
		}
		ext := entryExt(e)
		ext.Named = append(ext.Named, wim.Stream{Name: name, Hash: h, Size: int64(len(x.Value))})
	}
	return err
}

// ntfsReparse captures a reparse point, which ntfs-3g shows as a symlink,
// from its raw reparse buffer: tag, reserved field and data as NTFS holds
// them, without rewriting the target.
func (c *capturer) ntfsReparse(dfd int, e *wim.Entry, st *unix.Stat_t) (*wim.Entry, error) {
	t := c.xattrTarget()
	buf, err := c.ntfsXattr(&t, xNTFSReparse)
	if errors.Is(err, unix.ENODATA) {
		return c.interixLink(dfd, e, st)
	}
	if err != nil {
		c.warn(true, fmt.Errorf("%s: %w", xNTFSReparse, err))
		return nil, nil
	}
	tag, reserved, data, err := wim.SplitReparseBuffer(buf)
	if err != nil {
		c.warn(true, fmt.Errorf("%s: %w", xNTFSReparse, err))
		return nil, nil
	}
	h, err := c.storeBytes(data)
	if err != nil {
		return nil, err
	}
	c.fill(e, st, -1, true)
	e.Attributes |= wim.AttrReparsePoint
	x := entryExt(e)
	x.ReparseTag, x.ReparseReserved = tag, reserved
	x.Reparse = wim.Stream{Hash: h, Size: int64(len(data))}
	c.stats.Symlinks++
	return e, nil
}

// interixLink captures a symlink that ntfs-3g made itself (ln -s on the
// mount): on the volume it is a system file holding "IntxLNK\x01" and the
// target in UTF-16LE, not a reparse point, and that file is what an image
// of the volume holds.
func (c *capturer) interixLink(dfd int, e *wim.Entry, st *unix.Stat_t) (*wim.Entry, error) {
	target, err := c.readlink(dfd, e.Name)
	if err != nil {
		c.warn(true, fmt.Errorf("readlink: %w", err))
		return nil, nil
	}
	data := interixData(target)
	h, err := c.storeBytes(data)
	if err != nil {
		return nil, err
	}
	c.fill(e, st, -1, true)
	c.setAttributes(e, wim.AttrSystem)
	e.Data = wim.Stream{Hash: h, Size: int64(len(data))}
	c.stats.Files++
	return e, nil
}

// interixData returns the data of the Interix link to target: "IntxLNK\x01"
// and the target in UTF-16LE.
func interixData(target string) []byte {
	data := []byte("IntxLNK\x01")
	for _, u := range utf16.Encode([]rune(target)) {
		data = binary.LittleEndian.AppendUint16(data, u)
	}
	return data
}

// setAttributes gives e the attributes a derived from stat, unless the
// file system supplied Windows attributes already.
func (c *capturer) setAttributes(e *wim.Entry, a uint32) {
	if c.ntfs == nil || e.Attributes == 0 {
		e.Attributes = a
	}
}
