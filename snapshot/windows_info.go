package snapshot

import (
	"fmt"
	"io"
	"os"

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
		f, size, err := openRegular(dir, path)
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
