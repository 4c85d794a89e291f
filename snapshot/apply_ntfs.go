//go:build unix

package snapshot

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

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

// attributesFor returns the attributes an apply sets on e: for a
// directory also COMPRESSED, which ntfs-3g sets on a directory (its new
// files then inherit it) but not on a file.
func attributesFor(e *wim.Entry) uint32 {
	if e.IsDir() {
		return settableAttributes | wim.AttrCompressed
	}
	return settableAttributes
}

// ntfsCompressDir marks the directory fd, made or found for e, compressed
// before the walk writes what it holds when e is, so that its files are
// compressed as in the image (NTFS compresses a file created in a
// compressed directory). Its other attributes are set when it is done.
func (a *applier) ntfsCompressDir(fd int, e *wim.Entry) {
	if e.Attributes&wim.AttrCompressed == 0 {
		return
	}
	attr := binary.LittleEndian.AppendUint32(nil, wim.AttrDirectory|wim.AttrCompressed)
	if err := unix.Fsetxattr(fd, string(xNTFSAttrib), attr, 0); err != nil {
		a.warn(false, fmt.Errorf("marking the directory compressed: %w", err))
	}
}

// probeNTFS decides whether the apply target, open as rootFD, takes NTFS
// metadata (the dry run decides as the apply does). NTFSAuto leaves an
// image captured with UNIX data to the UNIX way when that data is
// applied: ntfs-3g keeps owners, modes and xattrs, and such an image has
// no Windows metadata worth them.
func (a *applier) probeNTFS(rootFD int, m *wim.Metadata) error {
	mode := a.opts.NTFS
	if mode == NTFSOff || mode == NTFSAuto && m.Root != nil && m.Root.Unix != nil && !a.opts.NoUnixData {
		return nil
	}
	var b [4]byte
	if _, err := unix.Fgetxattr(rootFD, string(xNTFSAttrib), b[:]); err != nil {
		if mode == NTFSOn {
			return fmt.Errorf("apply target %s: %w", a.target, ErrNotNTFS)
		}
		return nil
	}
	a.ntfs = &ntfsTarget{meta: m}
	return nil
}

// ntfsTarget is what an NTFS apply needs besides the entry: the image,
// for its security descriptors.
type ntfsTarget struct {
	meta *wim.Metadata
}

// ntfsMetaErrors writes e's named streams, security descriptor, DOS name
// (unless temp: a file written under a temporary name gets it once renamed,
// as the name it replaces may hold it), attributes and times to the open
// file or directory fd, times last, and returns the problems. In place,
// named streams the image lacks are removed.
func (a *applier) ntfsMetaErrors(fd int, e *wim.Entry, temp bool) []error {
	var errs []error
	set := func(name []byte, v []byte) error {
		if err := unix.Fsetxattr(fd, string(name), v, 0); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	if a.opts.InPlace {
		errs = append(errs, a.removeStaleStreams(fd, e)...)
	}
	for _, s := range e.NamedStreams() {
		v, err := a.readSmallStream(s)
		if err == nil {
			err = set([]byte("user."+s.Name), v)
		}
		if err != nil {
			errs = append(errs, partialError{fmt.Errorf("named stream %q not written: %w", s.Name, err)})
		}
	}
	if sd := a.ntfs.meta.Descriptor(e); sd != nil {
		if err := set(xNTFSACL, sd); err != nil {
			// The file keeps the descriptor it inherited, which may be
			// more open than the image's.
			errs = append(errs, partialError{fmt.Errorf("security descriptor not set, the file keeps the one it inherited: %w", err)})
		}
	}
	if n := e.ShortName(); n != "" && !temp && !a.hasDOSName(fd, n) {
		if err := a.setDOSName(fd, e, n); err != nil {
			errs = append(errs, err)
		}
	}
	if id := objectIDOf(e); id != nil && !temp { // unique on the volume, as a DOS name
		if err := set(xNTFSObjID, id); err != nil {
			errs = append(errs, err)
		}
	} else if a.opts.InPlace {
		if err := unix.Fremovexattr(fd, string(xNTFSObjID)); err != nil && !errors.Is(err, unix.ENODATA) {
			errs = append(errs, fmt.Errorf("removing %s: %w", xNTFSObjID, err))
		}
	}
	for _, x := range []struct {
		name, v []byte
	}{
		{xNTFSAttrib, binary.LittleEndian.AppendUint32(nil, e.Attributes&attributesFor(e))},
		{xNTFSTimes, ntfsTimes(e)}, // last: the others change them
	} {
		if err := set(x.name, x.v); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// partialError marks a metadata problem that leaves a file short of the
// image's data or protection (a named stream not written, a security
// descriptor refused): the apply is then partial (exit 3), as when it
// skips a file.
type partialError struct{ error }

func (p partialError) Unwrap() error { return p.error }

// warnMeta reports the metadata problems errs of the entry at path, if
// any, as partial when one of them is (partialError).
func (a *applier) warnMeta(path []string, errs []error) {
	if len(errs) == 0 {
		return
	}
	err := joinErrs(errs...)
	var p partialError
	a.warnPath(path, errors.As(err, &p), err)
}

// objectIDOf returns e's NTFS object id, nil if it has none.
func objectIDOf(e *wim.Entry) []byte {
	if e.Ext == nil {
		return nil
	}
	return e.Ext.ObjectID
}

// ntfsTimes is system.ntfs_times for e: creation, last write, last access.
func ntfsTimes(e *wim.Entry) []byte {
	var times []byte
	for _, t := range []wim.Filetime{e.CreationTime, e.LastWriteTime, e.LastAccessTime} {
		times = binary.LittleEndian.AppendUint64(times, uint64(t))
	}
	return times
}

// hasDOSName reports whether the open file fd already has the DOS name n
// (setting it again would fail: the name is taken, by the file itself).
func (a *applier) hasDOSName(fd int, n string) bool {
	var b [64]byte
	k, err := unix.Fgetxattr(fd, string(xNTFSDosName), b[:])
	return err == nil && string(b[:k]) == n
}

// removeStaleStreams removes the named streams of fd that e lacks, but
// for one over 64 KiB, which ntfs-3g cannot show, so that no capture
// through it holds it: it is kept, and named among the errors.
func (a *applier) removeStaleStreams(fd int, e *wim.Entry) []error {
	names, err := listUserXattrs(func(dest []byte) (int, error) { return unix.Flistxattr(fd, dest) })
	if err != nil {
		return []error{fmt.Errorf("listing named streams: %w", err)}
	}
	var errs []error
	var buf []byte
	for _, n := range names {
		if slices.ContainsFunc(e.NamedStreams(), func(s wim.Stream) bool { return "user."+s.Name == n }) {
			continue
		}
		if buf == nil {
			buf = make([]byte, maxNTFSStream)
		}
		if _, err := unix.Fgetxattr(fd, n, buf); errors.Is(err, unix.E2BIG) {
			errs = append(errs, fmt.Errorf("named stream %q kept: over 64 KiB, it cannot be read through ntfs-3g, "+
				"so the image could not hold it", n[len("user."):]))
			continue
		}
		if err := unix.Fremovexattr(fd, n); err != nil {
			errs = append(errs, fmt.Errorf("removing named stream %q: %w", n[len("user."):], err))
		}
	}
	return errs
}

// listUserXattrs returns the user.* xattr names list gives.
func listUserXattrs(list func(dest []byte) (int, error)) ([]string, error) {
	buf := make([]byte, 4096)
	for {
		n, err := list(buf)
		if errors.Is(err, unix.ERANGE) && len(buf) < 1<<20 {
			buf = make([]byte, 2*len(buf))
			continue
		}
		if err != nil {
			return nil, err
		}
		var names []string
		for _, name := range bytes.Split(buf[:n], []byte{0}) {
			if bytes.HasPrefix(name, []byte("user.")) {
				names = append(names, string(name))
			}
		}
		return names, nil
	}
}

// ntfsSame reports whether the existing file name in dfd has e's Windows
// metadata: attributes, descriptor, DOS name, creation and last write
// times (a regular file's last write time its stat checked already) and
// named streams (names and contents).
func (a *applier) ntfsSame(dfd int, e *wim.Entry, path []string) bool {
	p := a.xattrPath(dfd, e.Name, path)
	buf := make([]byte, 1<<16) // each value is looked at before the next get
	get := func(name []byte) ([]byte, bool) {
		n, err := unix.Lgetxattr(p, string(name), buf)
		return buf[:max(n, 0)], err == nil
	}
	attr, ok := get(xNTFSAttrib)
	if !ok || len(attr) != 4 || binary.LittleEndian.Uint32(attr)&attributesFor(e) != e.Attributes&attributesFor(e) {
		return false
	}
	if want := a.ntfs.meta.Descriptor(e); want != nil {
		if sd, ok := get(xNTFSACL); !ok || !bytes.Equal(sd, want) {
			return false
		}
	}
	if dos, _ := get(xNTFSDosName); string(dos) != e.ShortName() {
		return false
	}
	if id, _ := get(xNTFSObjID); !bytes.Equal(id, objectIDOf(e)) {
		return false
	}
	if t, ok := get(xNTFSTimes); !ok || len(t) < 16 || wim.Filetime(binary.LittleEndian.Uint64(t)) != e.CreationTime ||
		wim.Filetime(binary.LittleEndian.Uint64(t[8:])) != e.LastWriteTime {
		return false
	}
	names, err := listUserXattrs(func(dest []byte) (int, error) { return unix.Llistxattr(p, dest) })
	if err != nil || len(names) != len(e.NamedStreams()) {
		return false
	}
	for _, s := range e.NamedStreams() {
		v, ok := get([]byte("user." + s.Name))
		if !ok || int64(len(v)) != s.Size || s.Size > 0 && wim.Hash(sha1.Sum(v)) != s.Hash {
			return false
		}
	}
	return true
}

// ntfsAfterRename gives the file that replaced name in dir its DOS name
// and object id, which the file it replaced held until then (both are
// unique on the volume), then its attributes and times again (ntfs-3g
// sets ARCHIVE on a rename, which also touches the times).
func (a *applier) ntfsAfterRename(dir int, e *wim.Entry) error {
	n, id := e.ShortName(), objectIDOf(e)
	fd, err := unix.Openat(dir, e.Name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer closeFD(fd)
	if n != "" && !a.hasDOSName(fd, n) {
		if err := a.setDOSName(fd, e, n); err != nil {
			return err
		}
	}
	if id != nil {
		if err := unix.Fsetxattr(fd, string(xNTFSObjID), id, 0); err != nil {
			return fmt.Errorf("%s: %w", xNTFSObjID, err)
		}
	}
	return setAttribTimes(fd, e)
}

// setAttribTimes sets the attributes and the times of fd, e, through
// ntfs-3g.
func setAttribTimes(fd int, e *wim.Entry) error {
	attr := binary.LittleEndian.AppendUint32(nil, e.Attributes&attributesFor(e))
	if err := unix.Fsetxattr(fd, string(xNTFSAttrib), attr, 0); err != nil {
		return fmt.Errorf("%s: %w", xNTFSAttrib, err)
	}
	return unix.Fsetxattr(fd, string(xNTFSTimes), ntfsTimes(e), 0)
}

// warnLargeStreams warns about the named streams over 64 KiB of the file
// that j replaces, which go with it: ntfs-3g cannot show them, so no
// snapshot through it holds them (a rollback that keeps the file keeps
// them, see removeStaleStreams).
func (a *applier) warnLargeStreams(j fileJob) {
	p := a.xattrPath(j.dir, j.e.Name, j.at.comps())
	names, err := listUserXattrs(func(dest []byte) (int, error) { return unix.Llistxattr(p, dest) })
	if err != nil || len(names) == 0 {
		return
	}
	buf := make([]byte, maxNTFSStream)
	for _, n := range names {
		if _, err := unix.Lgetxattr(p, n, buf); errors.Is(err, unix.E2BIG) {
			a.warnPath(j.at.comps(), false, fmt.Errorf("named stream %q of the file replaced is lost: over 64 KiB, "+
				"it cannot be read through ntfs-3g, so the image could not hold it", n[len("user."):]))
		}
	}
}

// interixLike reports whether the file e, written through ntfs-3g, may
// be an Interix link (a system file): ntfs-3g shows one as a symbolic link
// once it is closed, and the kernel, which holds it as the regular file it
// wrote, fails the first lookup after that (EIO) and only then forgets it.
// The writer looks it up once, so that a later rollback finds it readable
// (it found it unreadable, and wrote it again at every run).
func (a *applier) interixLike(e *wim.Entry) bool {
	return a.ntfs != nil && e.Attributes&wim.AttrSystem != 0 && e.Data.Size >= 8
}

// ntfsReparseBuffer returns the reparse buffer of the reparse point e, as
// system.ntfs_reparse_data takes it.
func (a *applier) ntfsReparseBuffer(e *wim.Entry) ([]byte, error) {
	x := e.Ext
	data, err := readReparse(a.src, x.Reparse.Hash)
	if err != nil {
		return nil, &streamReadError{op: "read stream", err: err}
	}
	if len(data) > 0xFFFF-8 {
		return nil, fmt.Errorf("reparse data of %d bytes", len(data))
	}
	return wim.ReparseBuffer(x.ReparseTag, x.ReparseReserved, data)
}

// sameInterix reports whether the symbolic link that ntfs-3g shows at
// e.Name in dfd is the Interix link that the image's file e is: the data
// of the link to its target (interixData) is e's, and so is its Windows
// metadata (ntfsSame, times included). path names it from the target.
func (a *applier) sameInterix(dfd int, e *wim.Entry, path []string) bool {
	target, ok := readLinkAt(dfd, e.Name, 2*e.Data.Size) // a UTF-16 unit is at most 3 bytes of UTF-8
	if !ok {
		return false
	}
	data := interixData(target)
	if int64(len(data)) != e.Data.Size || wim.Hash(sha1.Sum(data)) != e.Data.Hash {
		return false
	}
	return a.ntfsSame(dfd, e, path)
}

// ntfsSameReparse reports whether dfd holds the reparse point e as the
// image has it: its reparse buffer buf and its Windows metadata (ntfsSame,
// times included). path names it from the target.
func (a *applier) ntfsSameReparse(dfd int, e *wim.Entry, buf []byte, path []string) bool {
	p := a.xattrPath(dfd, e.Name, path)
	have := make([]byte, len(buf)+1)
	n, err := unix.Lgetxattr(p, string(xNTFSReparse), have)
	if err != nil || !bytes.Equal(have[:n], buf) {
		return false
	}
	return a.ntfsSame(dfd, e, path)
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
	buf, err := a.ntfsReparseBuffer(e)
	if err != nil {
		a.warnPath(path, true, fmt.Errorf("reparse data: %w", err))
		return
	}

	if a.opts.InPlace && a.ntfsSameReparse(dfd, e, buf, path) {
		a.symlinks.Add(1)
		a.unchanged.Add(1)
		return
	}
	fd := -1
	mk := func(at string) (err error) {
		if e.Attributes&wim.AttrDirectory == 0 {
			fd, err = unix.Openat(dfd, at, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
			return err
		}
		if err := unix.Mkdirat(dfd, at, 0o755); err != nil {
			return err
		}
		fd, err = openDir(dfd, at, true)
		return err
	}
	err = a.makeNode(dfd, e.Name, path, mk) // a directory in the way goes with --delete
	if fd >= 0 {
		defer closeFD(fd)
	}
	if err != nil {
		a.warnPath(path, true, fmt.Errorf("create: %w", err))
		return
	}
	if err := unix.Fsetxattr(fd, string(xNTFSReparse), buf, 0); err != nil {
		a.warnPath(path, true, fmt.Errorf("%s: %w", xNTFSReparse, err))
		return
	}
	a.symlinks.Add(1)
	a.warnMeta(path, a.ntfsMetaErrors(fd, e, false))
	settleType(dfd, e.Name)
}

// settleType has the kernel learn that the file name in dfd changed type
// (a file or directory that its reparse data made a symbolic link, as
// ntfs-3g shows it): FUSE keeps the type it first saw, fails the first
// access after the change with EIO, and looks the name up afresh at the
// next. That EIO fell on the user's first access after the apply (a
// script's `ls`); here it falls on this one. Errors are left to that
// access.
func settleType(dfd int, name string) {
	var st unix.Stat_t
	for range 2 {
		if fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			return
		}
	}
}

// ntfsLinked is a further name the walk gave a file on an ntfs-3g
// target: e, at at.
type ntfsLinked struct {
	at pathAt
	e  *wim.Entry
}

// reattributeLinked sets the attributes and times of the files given
// further names again, once every file is written: ntfs-3g sets ARCHIVE,
// and the times, when a name is added to a file, which the file's own
// metadata, set before, then lacks. A file gone meanwhile (its contents
// failed) is passed over; a failure is a warning.
func (a *applier) reattributeLinked() {
	for _, l := range a.ntfsLinked {
		dir, err := a.openPath(l.at.dir.comps())
		if err != nil {
			continue
		}
		if err := a.ntfsReattribute(dir, l.at.name, l.e); err != nil && !errors.Is(err, unix.ENOENT) {
			a.warnPath(l.at.comps(), false, fmt.Errorf("attributes and times: %w", err))
		}
		a.closeOpened(dir)
	}
	a.ntfsLinked = nil
}

// ntfsReattribute sets the attributes and times of name in dir, e.
func (a *applier) ntfsReattribute(dir int, name string, e *wim.Entry) error {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer closeFD(fd)
	return setAttribTimes(fd, e)
}
