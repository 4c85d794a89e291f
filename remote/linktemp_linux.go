package remote

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// linkTemp fsyncs f, whose file fi describes, and gives its file a new
// temporary name in dir, which it returns. It returns an error wrapping errors.ErrUnsupported when the
// file cannot be linked there (another file system (EXDEV), an anonymous
// file not made linkable (ENOENT), a file system without hard links, no
// /proc for a process that may not link by descriptor) or should not be
// (see inherits).
func linkTemp(f *os.File, fi os.FileInfo, dir string) (string, error) {
	if inherits(fi, dir) {
		return "", errors.ErrUnsupported
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	name := filepath.Join(dir, tmpPrefix+rand.Text())
	fd := int(f.Fd())
	// AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc/self/fd does not.
	err := unix.Linkat(fd, "", unix.AT_FDCWD, name, unix.AT_EMPTY_PATH)
	if err != nil {
		proc := "/proc/self/fd/" + strconv.Itoa(fd)
		err = unix.Linkat(unix.AT_FDCWD, proc, unix.AT_FDCWD, name, unix.AT_SYMLINK_FOLLOW)
	}
	switch {
	case err == nil:
		return name, nil
	case errors.Is(err, unix.EXDEV), errors.Is(err, unix.ENOENT), errors.Is(err, unix.EPERM),
		errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EMLINK):
		return "", &os.LinkError{Op: "link", Old: f.Name(), New: name, Err: errors.Join(err, errors.ErrUnsupported)}
	}
	return "", &os.LinkError{Op: "link", Old: f.Name(), New: name, Err: err}
}

// inherits reports whether a file made in dir would take from it something
// the file fi describes lacks: the group of a set-group-ID directory (a repository
// shared by a group), or a default ACL. Such a file is copied, so that the
// object gets them as Put's files do.
func inherits(fi os.FileInfo, dir string) bool {
	var ds unix.Stat_t
	fs, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || unix.Stat(dir, &ds) != nil {
		return true
	}
	if ds.Mode&unix.S_ISGID != 0 && ds.Gid != fs.Gid {
		return true
	}
	n, err := unix.Getxattr(dir, "system.posix_acl_default", nil)
	return err == nil && n > 0
}
