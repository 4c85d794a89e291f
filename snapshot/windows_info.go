package snapshot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// WindowsInfo returns the WINDOWS element of image m, captured from the
// directory root: m's system root (see [wim.Metadata.FindSystemRoot];
// prefer names the one to take when several exist) and the kernel32.dll
// and registry hives in it, read from root. It returns nil when the image
// holds no Windows system. A file that cannot be opened or parsed leaves its
// elements out and is passed to warn with its image path; it never fails a
// capture.
func WindowsInfo(root string, m *wim.Metadata, prefer string, warn func(path string, err error)) *wim.WindowsInfo {
	sr, ok := m.FindSystemRoot(prefer)
	if !ok {
		return nil
	}
	dir, err := os.Open(root)
	if err != nil {
		warn(root, err)
		return nil
	}
	defer closeRead(dir)
	var opened []*os.File
	defer func() {
		for _, f := range opened {
			closeRead(f)
		}
	}()
	open := func(path string) *io.SectionReader {
		if path == "" {
			return nil
		}
		f, size, err := openRegular(int(dir.Fd()), path)
		if err != nil {
			warn(path, err)
			return nil
		}
		opened = append(opened, f)
		return io.NewSectionReader(f, 0, size)
	}
	files := wim.WindowsFiles{Kernel32: open(sr.Kernel32), Software: open(sr.Software), System: open(sr.System)}
	info, errs := wim.ReadWindowsInfo(sr.Name, files)
	for _, f := range []struct {
		path string
		err  error
	}{{sr.Kernel32, errs.Kernel32}, {sr.Software, errs.Software}, {sr.System, errs.System}} {
		if f.err != nil {
			warn(f.path, fmt.Errorf("reading Windows information: %w", f.err))
		}
	}
	return info
}

// openRegular opens the regular file at the slash-separated path below the
// directory dfd for reading, following no symlink; anything else (a FIFO,
// a device) is refused without blocking.
func openRegular(dfd int, path string) (*os.File, int64, error) {
	fd, err := openBeneath(dfd, strings.Split(path, "/"), unix.O_RDONLY|unix.O_NONBLOCK)
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
