package remote

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// linkTemp fsyncs f and gives its file a new temporary name in dir, which
// it returns. It returns an error wrapping errors.ErrUnsupported when the
// file cannot be linked there: another file system (EXDEV), an anonymous
// file not made linkable (ENOENT), a file system without hard links, or
// no /proc for a process that may not link by descriptor.
func linkTemp(f *os.File, dir string) (string, error) {
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
