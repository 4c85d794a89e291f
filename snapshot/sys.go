//go:build unix

package snapshot

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// openDir opens the directory name in dfd for reading; with noFollow a
// symlink is refused (ELOOP/ENOTDIR).
func openDir(dfd int, name string, noFollow bool) (int, error) {
	flags := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	if noFollow {
		flags |= unix.O_NOFOLLOW
	}
	for {
		fd, err := unix.Openat(dfd, name, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// readDirNames returns the names in the directory fd, "." and ".."
// excluded, reading through buf; what was read before an error is
// returned with it.
func readDirNames(fd int, buf []byte) ([]string, error) {
	var names []string
	err := eachDirName(fd, buf, func(name []byte) { names = append(names, string(name)) })
	return names, err
}

// eachDirName calls fn with each name in the directory fd, "." and ".."
// excluded, reading through buf; a name is valid only during its call.
func eachDirName(fd int, buf []byte, fn func(name []byte)) error {
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading directory: %w", err)
		}
		if n <= 0 {
			return nil
		}
		if err := eachDirent(buf[:n], fn); err != nil {
			return err
		}
	}
}

// Offsets in a struct linux_dirent64: inode number, record length, name.
const (
	direntIno    = 0
	direntReclen = 16
	direntName   = 19
)

// eachDirent calls fn with the name of each record of buf, which getdents64
// filled, but . and .. and deleted entries (inode 0).
func eachDirent(buf []byte, fn func(name []byte)) error {
	for len(buf) > 0 {
		if len(buf) < direntName {
			return errors.New("reading directory: truncated record")
		}
		reclen := int(binary.NativeEndian.Uint16(buf[direntReclen:]))
		if reclen < direntName || reclen > len(buf) {
			return fmt.Errorf("reading directory: record of %d bytes", reclen)
		}
		name := buf[direntName:reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		dot := string(name) == "." || string(name) == ".."
		if binary.NativeEndian.Uint64(buf[direntIno:]) != 0 && !dot {
			fn(name)
		}
		buf = buf[reclen:]
	}
	return nil
}

// closeFD closes fd, a directory or a file that was only read or was left
// empty: closing it loses no data, so there is no error to act on. A file
// with written contents is closed by writeFile, which checks.
func closeFD(fd int) { _ = unix.Close(fd) }

func fstat(fd int, st *unix.Stat_t) error {
	for {
		if err := unix.Fstat(fd, st); err != unix.EINTR {
			return err
		}
	}
}

func fstatat(dfd int, name string, st *unix.Stat_t, flags int) error {
	for {
		if err := unix.Fstatat(dfd, name, st, flags); err != unix.EINTR {
			return err
		}
	}
}

// xattrUnsupported reports whether err means the file system or file has no
// xattrs at all.
func xattrUnsupported(err error) bool {
	return errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENODATA)
}

// maxXattrValue is the largest UNIX xattr value a WIM holds.
const maxXattrValue = 0xFFFF

// xattrTarget names the file whose xattrs are read: an open descriptor
// (fd >= 0), a name in the directory dfd read with listxattrat and
// getxattrat (dfd >= 0, Linux 6.13), or a path. name is NUL-terminated and
// is the name in dfd or the whole path; the final component is never
// followed.
type xattrTarget struct {
	fd, dfd int
	name    []byte
}

// readXattrs returns the extended attributes of t in listxattr order.
// Values over maxValue bytes are left out with an error (maxXattrValue for
// UNIX xattrs, which a WIM stores with a 16-bit size), as are those that
// cannot be read; the others are returned with the error.
func (c *capturer) readXattrs(t xattrTarget, maxValue int) ([]wim.Xattr, error) {
	if c.xlist == nil {
		c.xlist = make([]byte, 4096)
		c.xval = make([]byte, 4096)
	}
	var n int
	var err error
	for {
		n, err = t.list(c.xlist)
		if errors.Is(err, unix.ERANGE) {
			c.xlist = make([]byte, 2*len(c.xlist))
			continue
		}
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		if xattrUnsupported(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing xattrs: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	var xs []wim.Xattr
	var errs []error
	for list := c.xlist[:n]; len(list) > 0; {
		i := bytes.IndexByte(list, 0)
		if i < 0 {
			i = len(list)
		}
		name := list[:i]
		list = list[min(i+1, len(list)):]
		if len(name) == 0 {
			continue
		}
		v, err := c.getXattr(t, name)
		if err != nil {
			if errors.Is(err, unix.ENODATA) {
				continue // removed meanwhile
			}
			errs = append(errs, fmt.Errorf("xattr %q: %w", name, err))
			continue
		}
		if len(v) > maxValue || len(name) > 255 {
			errs = append(errs, fmt.Errorf("xattr %q: %d-byte value does not fit a WIM", name, len(v)))
			continue
		}
		xs = append(xs, wim.Xattr{Name: string(name), Value: bytes.Clone(v)})
	}
	return xs, errors.Join(errs...)
}

// getXattr returns the value of the xattr name (not NUL-terminated) of t,
// valid until the next call.
func (c *capturer) getXattr(t xattrTarget, name []byte) ([]byte, error) {
	if c.xval == nil {
		c.xval = make([]byte, 4096)
	}
	cname := append(name[:len(name):len(name)], 0) // copy with terminator
	for {
		n, err := t.get(cname, c.xval)
		switch {
		case err == nil:
			return c.xval[:n], nil
		case errors.Is(err, unix.ERANGE):
			c.xval = make([]byte, 2*len(c.xval))
		case errors.Is(err, unix.EINTR):
		default:
			return nil, err
		}
	}
}

// The raw calls below take NUL-terminated byte slices so that listing and
// reading xattrs allocates nothing per file.

func bufPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

func (t xattrTarget) list(dest []byte) (int, error) {
	var r uintptr
	var e unix.Errno
	switch {
	case t.fd >= 0:
		r, _, e = unix.Syscall(unix.SYS_FLISTXATTR, uintptr(t.fd), uintptr(bufPtr(dest)), uintptr(len(dest)))
	case t.dfd >= 0:
		r, _, e = unix.Syscall6(unix.SYS_LISTXATTRAT, uintptr(t.dfd), uintptr(bufPtr(t.name)), unix.AT_SYMLINK_NOFOLLOW,
			uintptr(bufPtr(dest)), uintptr(len(dest)), 0)
	default:
		r, _, e = unix.Syscall(unix.SYS_LLISTXATTR, uintptr(bufPtr(t.name)), uintptr(bufPtr(dest)), uintptr(len(dest)))
	}
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// xattrArgs is the kernel's struct xattr_args of getxattrat.
type xattrArgs struct {
	value uint64
	size  uint32
	flags uint32
}

// remove removes the xattr name of the file t names by its descriptor, or
// by its NUL-terminated path, not followed (not by dfd and name).
func (t xattrTarget) remove(name string) error {
	if t.fd >= 0 {
		return unix.Fremovexattr(t.fd, name)
	}
	return unix.Lremovexattr(string(bytes.TrimSuffix(t.name, []byte{0})), name)
}

func (t xattrTarget) get(name, dest []byte) (int, error) {
	var r uintptr
	var e unix.Errno
	switch {
	case t.fd >= 0:
		r, _, e = unix.Syscall6(unix.SYS_FGETXATTR, uintptr(t.fd), uintptr(bufPtr(name)),
			uintptr(bufPtr(dest)), uintptr(len(dest)), 0, 0)
	case t.dfd >= 0:
		args := xattrArgs{value: uint64(uintptr(bufPtr(dest))), size: uint32(len(dest))}
		r, _, e = unix.Syscall6(unix.SYS_GETXATTRAT, uintptr(t.dfd), uintptr(bufPtr(t.name)), unix.AT_SYMLINK_NOFOLLOW,
			uintptr(bufPtr(name)), uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args))
		runtime.KeepAlive(dest)
	default:
		r, _, e = unix.Syscall6(unix.SYS_LGETXATTR, uintptr(bufPtr(t.name)), uintptr(bufPtr(name)),
			uintptr(bufPtr(dest)), uintptr(len(dest)), 0, 0)
	}
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// fileReader reads one regular file of known size through its descriptor.
// For a sparse file it asks the file system where the data is
// (SEEK_DATA/SEEK_HOLE) and produces the holes as zeros without reading.
// Errors of the file are kept in err, so that they can be told from errors
// of the sink.
type fileReader struct {
	ctx       context.Context // checked before every read
	fd        int
	off, size int64
	sparse    bool
	dataStart int64 // current data region [dataStart, dataEnd)
	dataEnd   int64
	read      int64 // bytes read from the file (holes excluded)
	err       error
}

func (r *fileReader) reset(ctx context.Context, fd int, size int64, sparse bool) {
	*r = fileReader{ctx: ctx, fd: fd, size: size, sparse: sparse, dataEnd: -1}
	if !sparse {
		r.dataEnd = size
	}
}

func (r *fileReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.err = r.ctx.Err(); r.err != nil {
		return 0, r.err
	}
	if r.off >= r.size {
		return 0, io.EOF
	}
	if rest := r.size - r.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	if r.off >= r.dataEnd {
		r.nextRegion()
	}
	if r.off < r.dataStart {
		n := int(min(int64(len(p)), r.dataStart-r.off))
		clear(p[:n])
		r.off += int64(n)
		return n, nil
	}
	if rest := r.dataEnd - r.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	for {
		n, err := unix.Pread(r.fd, p, r.off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			r.err = err
			return 0, err
		}
		if n == 0 {
			return 0, io.EOF // the file shrank: the sink reports ErrSizeChanged
		}
		r.off += int64(n)
		r.read += int64(n)
		return n, nil
	}
}

// nextRegion finds the data region at or after off. Without SEEK_DATA
// support everything from off on is data.
func (r *fileReader) nextRegion() {
	start, err := unix.Seek(r.fd, r.off, unix.SEEK_DATA)
	switch {
	case err == unix.ENXIO: // only a hole is left
		r.dataStart, r.dataEnd = r.size, r.size
		return
	case err != nil || start < r.off:
		r.dataStart, r.dataEnd = r.off, r.size
		return
	}
	end, err := unix.Seek(r.fd, start, unix.SEEK_HOLE)
	if err != nil || end <= start {
		end = r.size
	}
	r.dataStart, r.dataEnd = min(start, r.size), min(end, r.size)
	if r.dataEnd <= r.off {
		r.dataStart, r.dataEnd = r.off, r.size
	}
}

// futimens sets the access and modification times of fd (utimensat with a
// NULL path), to the nanosecond.
func futimens(fd int, ts *[2]unix.Timespec) error {
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// openRegular opens the regular file at the slash-separated path below the
// open directory dir for reading, following no symlink; anything else (a FIFO,
// a device) is refused without blocking.
func openRegular(dir *os.File, path string) (*os.File, int64, error) {
	fd, err := openBeneath(int(dir.Fd()), strings.Split(path, "/"), unix.O_RDONLY|unix.O_NONBLOCK)
	if err != nil {
		return nil, 0, err
	}
	var st unix.Stat_t
	if err := fstat(fd, &st); err != nil {
		closeFD(fd)
		return nil, 0, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		closeFD(fd)
		return nil, 0, errors.New("not a regular file")
	}
	return os.NewFile(uintptr(fd), path), st.Size, nil
}
