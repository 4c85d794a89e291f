//go:build unix

package snapshot

import (
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// This file holds what Apply's workers do: write a regular file's
// contents (with holes) and its metadata.

// mode returns the permission bits (with setuid, setgid, sticky) for e.
func (a *applier) mode(e *wim.Entry, isDir bool) uint32 {
	if a.unixData && e.Unix != nil {
		return e.Unix.Mode & 0o7777
	}
	m := uint32(0o644)
	if isDir {
		m = 0o755
	}
	if e.Attributes&wim.AttrReadonly != 0 && !isDir {
		m &^= 0o222
	}
	return m
}

func timespecs(e *wim.Entry) [2]unix.Timespec {
	as, ans := e.LastAccessTime.Unix()
	ms, mns := e.LastWriteTime.Unix()
	return [2]unix.Timespec{{Sec: as, Nsec: ans}, {Sec: ms, Nsec: mns}}
}

func (a *applier) worker() {
	defer a.wg.Done()
	var buf []byte
	for j := range a.jobs {
		if a.ctx.Err() != nil {
			closeFD(j.fd) // still empty (or -1 in place)
			closeFD(j.dir)
			continue
		}
		if j.link {
			a.deferredLink(j)
			continue
		}
		if buf == nil {
			buf = make([]byte, 1<<20)
		}
		a.writeFile(j, buf)
	}
}

// writeFile writes the contents and metadata of one regular file and
// closes it. A failed write or close skips the file, or ends the apply
// when the disk is full.
func (a *applier) writeFile(j fileJob, buf []byte) {
	if j.dir >= 0 {
		a.replaceFile(j, buf)
		return
	}
	n, err := a.fillFile(j, buf)
	if err != nil {
		// Never leave contents that are not the image's (a stream that
		// failed its checksum half way, say): the file is emptied, then
		// removed.
		_ = unix.Ftruncate(j.fd, 0)
	}
	var st unix.Stat_t // for dropFailed: a zero st leaves the file
	if err != nil || a.ntfs == nil {
		// Through ntfs-3g only after an error: a file written with an
		// Interix link's data stats as a symbolic link once its system
		// attribute is set, and the kernel then fails its close (EIO)
		// for the change of type.
		_ = unix.Fstat(j.fd, &st)
	}
	if cerr := closeFile(j.fd); err == nil && cerr != nil {
		// A network file system reports here the writes it failed
		// to store, yet the file has the image's size and times: a
		// later restore would take it for restored. It is removed.
		err = fmt.Errorf("close: %w", cerr)
		if a.stoppedBy(err) {
			a.fileError(j, err)
		}
		a.dropFailed(j.at, st, err)
		return
	}
	switch {
	case err == nil:
		a.unfilled.done(j.at)
		a.bytes.Add(n)
		if a.interixLike(j.e) {
			_, _ = a.statAt(j.at) // see interixLike
		}
	case a.stoppedBy(err):
		a.fileError(j, err) // removeUnfilled removes it
	default:
		a.dropFailed(j.at, st, err)
	}
}

// closeFile closes a file the apply wrote (a variable for tests).
var closeFile = unix.Close

// fileError reports a file whose writing failed: it is skipped, or the
// apply ends when the disk is full.
func (a *applier) fileError(j fileJob, err error) {
	if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
		a.setFatal(fmt.Errorf("writing %s: %w", a.display(j.at.comps()), err))
		return
	}
	if a.ctx.Err() == nil {
		a.warnPath(j.at.comps(), true, err)
	}
}

// fillFile writes the contents of one regular file, then its metadata,
// whose problems it reports as warnings. It returns the bytes of contents
// written and the error that stopped them; the caller counts the bytes
// once the file is in place (ApplyStats.Bytes counts only files applied).
func (a *applier) fillFile(j fileJob, buf []byte) (int64, error) {
	var n int64
	if h := j.e.Data.Hash; !h.IsZero() {
		var err error
		// Through ntfs-3g a hole makes the file sparse, which the image's
		// attributes then cannot clear: a file not sparse is written whole.
		holes := a.ntfs == nil || j.e.Attributes&wim.AttrSparseFile != 0
		if n, err = a.writeContents(j, h, buf, holes); err != nil {
			return n, err // the file is not applied: its bytes do not count
		}
	}
	var errs []error
	if a.ntfs != nil {
		errs = a.ntfsMetaErrors(j.fd, j.e, j.tmp != "")
	} else {
		errs = a.metaErrors(j.fd, j.e, false)
	}
	if len(errs) > 0 { // comps copies the path: only for a warning
		a.warnMeta(j.at.comps(), errs)
	}
	return n, nil
}

// metaErrors sets owner, xattrs, mode and times of the open file or
// directory fd, in an order that keeps setuid bits and capabilities
// (chown clears them; chmod comes after), and returns the problems.
func (a *applier) metaErrors(fd int, e *wim.Entry, isDir bool) []error {
	if a.ntfs != nil {
		return a.ntfsMetaErrors(fd, e, false)
	}
	var errs []error
	if a.unixData && e.Unix != nil && a.isRoot {
		if err := unix.Fchown(fd, int(e.Unix.UID), int(e.Unix.GID)); err != nil {
			errs = append(errs, fmt.Errorf("chown: %w", err))
		}
	}
	if a.unixData {
		for _, x := range e.Xattrs {
			if err := unix.Fsetxattr(fd, x.Name, x.Value, 0); err != nil {
				errs = append(errs, fmt.Errorf("xattr %q: %w", x.Name, err))
			}
		}
		errs = append(errs, a.dropInheritedACLs(xattrTarget{fd: fd, dfd: -1}, e, isDir)...) // before chmod, which would set an ACL's mask
	}
	if err := unix.Fchmod(fd, a.mode(e, isDir)); err != nil {
		errs = append(errs, fmt.Errorf("chmod: %w", err))
	}
	ts := timespecs(e)
	if err := futimens(fd, &ts); err != nil {
		errs = append(errs, fmt.Errorf("times: %w", err))
	}
	if len(errs) > 0 {
		errs = append(errs, a.metaWhy(fd)...)
	}
	if err := a.clampNote(e); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// writeContents copies the stream h into j.fd, an empty file (every file
// the apply writes is made with O_EXCL), leaving holes for all-zero 32 KiB
// blocks when holes is set, and sets the file size. It returns the bytes
// copied. j.old, when not nil, is the file being replaced, from which the
// source may take the blocks it holds already (chunkReuser). A stream
// that fails its checksum or does not decode is read once more from the
// start, into the emptied file, from the source alone: from a remote
// store the damage may have been in transfer only, and old may have
// changed meanwhile.
func (a *applier) writeContents(j fileJob, h wim.Hash, buf []byte, holes bool) (int64, error) {
	n, err := a.copyContents(j, h, buf, holes)
	if err == nil || a.ctx.Err() != nil || !damagedStream(err) && !errors.Is(err, errReusedChanged) {
		return n, err
	}
	if terr := unix.Ftruncate(j.fd, 0); terr != nil {
		return n, err
	}
	j.old = nil
	return a.copyContents(j, h, buf, holes)
}

// chunkReuser is a StreamSource that reads a rollback's replacement of a
// file apart (openReplacing): it takes the blocks of the stream that the
// older version of the file holds already from that file (a repository's:
// those need not be fetched nor expanded), and tells its caches what it
// fetches, the read coming out of the order the walk ranked new files in.
type chunkReuser interface {
	openReplacing(h wim.Hash, old io.ReaderAt, oldSize int64, buf []byte) (io.ReadCloser, error)
}

// oldFile is a file that a rollback replaces, open for reading.
type oldFile struct {
	fd   int
	size int64
}

// ReadAt reads from the file at off, as io.ReaderAt does.
func (f *oldFile) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Pread(f.fd, p[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

// openOld opens the regular file that j replaces, for the source to take
// the blocks it holds already from it; nil when the source cannot
// (chunkReuser), when the image's file is too small for it to be worth
// it, or when no regular file of a chunk or more is there.
func (a *applier) openOld(j fileJob) *oldFile {
	if _, ok := a.src.(chunkReuser); !ok || j.e.Data.Size < reuseMin || j.dir < 0 {
		return nil
	}
	fd, err := unix.Openat(j.dir, j.e.Name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil
	}
	var st unix.Stat_t
	if fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size < RepoChunkSize {
		closeFD(fd)
		return nil
	}
	return &oldFile{fd: fd, size: st.Size}
}

// openStream opens the stream h of j, a replacement (j.replacing) through
// the source's openReplacing when it has one, with the old file if j has it.
func (a *applier) openStream(j fileJob, h wim.Hash, buf []byte) (io.ReadCloser, error) {
	r, ok := a.src.(chunkReuser)
	switch {
	case !ok || !j.replacing:
		return a.src.OpenStream(h)
	case j.old == nil:
		return r.openReplacing(h, nil, 0, buf)
	default:
		return r.openReplacing(h, j.old, j.old.size, buf)
	}
}

// damagedStream reports whether err says that a stream's bytes are wrong
// (as opposed to missing, or a write that failed).
func damagedStream(err error) bool {
	return errors.Is(err, ErrRepoFormat) || errors.Is(err, wim.ErrChecksum) || errors.Is(err, wim.ErrFormat)
}

func (a *applier) copyContents(j fileJob, h wim.Hash, buf []byte, holes bool) (int64, error) {
	fd := j.fd
	rc, err := a.openStream(j, h, buf)
	if err != nil {
		return 0, &streamReadError{"open stream", err}
	}
	defer closeRead(rc)
	const block = 32 << 10
	var off, size int64 // size: where the last write ended, the file's size
	var shown int64     // of a.writing
	defer func() { a.writing.Add(-shown) }()
	for {
		if err := a.ctx.Err(); err != nil {
			return off, err
		}
		n, rerr := io.ReadFull(rc, buf)
		a.writing.Add(int64(n))
		shown += int64(n)
		for i := 0; i < n; {
			end := min(i+block, n)
			if holes && isZero(buf[i:end]) {
				i = end
				continue
			}
			// Extend the run over the following non-zero blocks.
			for end < n {
				next := min(end+block, n)
				if holes && isZero(buf[end:next]) {
					break
				}
				end = next
			}
			if err := pwriteAll(fd, buf[i:end], off+int64(i)); err != nil {
				return off, fmt.Errorf("write: %w", err)
			}
			size = off + int64(end)
			i = end
		}
		off += int64(n)
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return off, &streamReadError{"read stream", rerr}
		}
	}
	if size == off {
		return off, nil // no hole at the end: the writes made the size
	}
	if err := unix.Ftruncate(fd, off); err != nil {
		return off, fmt.Errorf("truncate: %w", err)
	}
	return off, nil
}

func pwriteAll(fd int, p []byte, off int64) error {
	for len(p) > 0 {
		n, err := unix.Pwrite(fd, p, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// streamReadError is a failure to read a file's data from the source.
type streamReadError struct {
	op  string // "open stream" or "read stream"
	err error
}

func (e *streamReadError) Error() string        { return e.op + ": " + e.err.Error() }
func (e *streamReadError) Unwrap() error        { return e.err }
func (e *streamReadError) Is(target error) bool { return target == ErrStreamRead }
