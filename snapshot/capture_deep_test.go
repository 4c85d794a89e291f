//go:build unix

package snapshot

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// makeDeepTree makes below dir a chain of depth directories named with
// 200 bytes each (a path far over PATH_MAX, made through descriptors),
// ending in a file.
func makeDeepTree(t *testing.T, dir string, depth int) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range depth {
		name := fmt.Sprintf("%04d", i) + strings.Repeat("d", 196)
		if err := unix.Mkdirat(fd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		closeFD(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	defer closeFD(fd)
	f, err := unix.Openat(fd, "leaf", unix.O_WRONLY|unix.O_CREAT, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	closeFD(f)
}

// TestCaptureDeepTree: capturing a tree 1500 levels deep with long names
// keeps no path of every ancestor (the scanner's did: 700 MB for 2000
// levels of 255-byte names), and the image has every level.
func TestCaptureDeepTree(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	must(t, unix.Mkdir(src, 0o755))
	const depth = 1500
	makeDeepTree(t, src, depth)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	st := captureWIM(t, src, filepath.Join(tmp, "deep.wim"), CaptureOptions{})
	runtime.ReadMemStats(&after)
	if st.Dirs != depth+1 || st.Files != 1 {
		t.Errorf("captured %d dirs, %d files; want %d and 1", st.Dirs, st.Files, depth+1)
	}
	// Each path of 1500 levels is 300 KB: the ancestors' together were
	// 225 MB, allocated twice.
	if got := after.TotalAlloc - before.TotalAlloc; got > 100<<20 {
		t.Errorf("the capture allocated %d MB", got>>20)
	}
}
