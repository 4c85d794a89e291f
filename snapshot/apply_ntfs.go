//go:build unix

package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// This file holds apply onto an NTFS volume mounted with ntfs-3g: the
// Windows metadata of each entry is written through ntfs-3g's extended
// attributes (see capture_ntfs.go for the list) instead of UNIX data.

// maxNTFSStream is the largest named stream the xattr interface carries
// (the kernel's limit on an xattr value).
const maxNTFSStream = 1 << 16

// settableAttributes are the FILE_ATTRIBUTE_* bits ntfs-3g sets through
// system.ntfs_attrib; directory, reparse, sparse and compression bits follow
// from what the file is.
const settableAttributes = wim.AttrReadonly | wim.AttrHidden | wim.AttrSystem | wim.AttrArchive |
	wim.AttrTemporary | 0x1000 /* OFFLINE */ | wim.AttrNotContentIndexed

// probeNTFS decides whether the apply target rootFD takes NTFS metadata.
func (a *applier) probeNTFS(security [][]byte) error {
	mode := a.opts.NTFS
	if mode == NTFSOff || mode == NTFSAuto && a.opts.InPlace {
		return nil
	}
	var b [4]byte
	if _, err := unix.Fgetxattr(a.rootFD, string(xNTFSAttrib), b[:]); err != nil {
		if mode == NTFSOn {
			return fmt.Errorf("snapshot: apply target %s: %w", a.target, ErrNotNTFS)
		}
		return nil
	}
	if a.opts.InPlace {
		return fmt.Errorf("snapshot: apply target %s: an in-place restore onto an ntfs-3g mount is not supported yet: %w",
			a.target, wim.ErrUnsupported)
	}
	a.ntfs = &ntfsTarget{security: security}
	return nil
}

// ntfsTarget is what an NTFS apply needs besides the entry: the image's
// security descriptors.
type ntfsTarget struct {
	security [][]byte
}

// ntfsMetaErrors writes e's named streams, security descriptor, DOS name,
// attributes and times to the open file or directory fd, times last, and
// returns the problems.
func (a *applier) ntfsMetaErrors(fd int, e *wim.Entry) []error {
	var errs []error
	set := func(name []byte, v []byte) {
		if err := unix.Fsetxattr(fd, string(name), v, 0); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	for _, s := range e.NamedStreams() {
		v, err := a.readSmallStream(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("named stream %q: %w", s.Name, err))
			continue
		}
		set([]byte("user."+s.Name), v)
	}
	if id := int(e.SecurityID); id >= 0 && id < len(a.ntfs.security) {
		set(xNTFSACL, a.ntfs.security[id])
	}
	if n := e.ShortName(); n != "" {
		set(xNTFSDosName, []byte(n))
	}
	set(xNTFSAttrib, binary.LittleEndian.AppendUint32(nil, e.Attributes&settableAttributes))
	var times []byte
	for _, t := range []wim.Filetime{e.CreationTime, e.LastWriteTime, e.LastAccessTime} {
		times = binary.LittleEndian.AppendUint64(times, uint64(t))
	}
	set(xNTFSTimes, times)
	return errs
}

// readSmallStream reads a named stream whole; the xattr interface takes
// at most maxNTFSStream bytes.
func (a *applier) readSmallStream(s wim.Stream) ([]byte, error) {
	if s.Hash.IsZero() {
		return nil, nil
	}
	rc, err := a.src.OpenStream(s.Hash)
	if err != nil {
		return nil, err
	}
	defer closeRead(rc)
	v, err := io.ReadAll(io.LimitReader(rc, maxNTFSStream+1))
	if err != nil {
		return nil, err
	}
	if len(v) > maxNTFSStream {
		return nil, fmt.Errorf("larger than the %d bytes ntfs-3g's xattr interface carries", maxNTFSStream)
	}
	return v, nil
}

// ntfsReparse makes the reparse point e in dfd: an empty file or
// directory given e's reparse buffer, with its metadata; path names it in
// warnings.
func (a *applier) ntfsReparse(dfd int, e *wim.Entry, path []string) {
	x := e.Ext
	if x == nil {
		a.warnPath(path, true, errors.New("reparse point without reparse data"))
		return
	}
	data, err := readReparse(a.src, x.Reparse.Hash)
	if err == nil && len(data) > 0xFFFF-8 {
		err = fmt.Errorf("reparse data of %d bytes", len(data))
	}
	if err != nil {
		a.warnPath(path, true, fmt.Errorf("reparse data: %w", err))
		return
	}
	buf := binary.LittleEndian.AppendUint32(nil, x.ReparseTag)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(data)))
	buf = binary.LittleEndian.AppendUint16(buf, x.ReparseReserved)
	buf = append(buf, data...)

	var fd int
	if e.Attributes&wim.AttrDirectory != 0 {
		err = replaceNode(dfd, e.Name, func() error { return unix.Mkdirat(dfd, e.Name, 0o755) })
		if err == nil {
			fd, err = openDir(dfd, e.Name, true)
		}
	} else {
		err = replaceNode(dfd, e.Name, func() (err error) {
			fd, err = unix.Openat(dfd, e.Name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
			return err
		})
	}
	if err != nil {
		a.warnPath(path, true, fmt.Errorf("create: %w", err))
		return
	}
	defer closeFD(fd)
	if err := unix.Fsetxattr(fd, string(xNTFSReparse), buf, 0); err != nil {
		a.warnPath(path, true, fmt.Errorf("%s: %w", xNTFSReparse, err))
		return
	}
	a.symlinks.Add(1)
	if errs := a.ntfsMetaErrors(fd, e); len(errs) > 0 {
		a.warnPath(path, false, errors.Join(errs...))
	}
}
