//go:build unix

package snapshot

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
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

// deepChain returns the root of a chain of depth directories named with
// 200 bytes each, in memory, whose last holds leaves.
func deepChain(depth int, leaves ...*wim.Entry) *wim.Entry {
	root := &wim.Entry{Attributes: wim.AttrDirectory}
	e := root
	for range depth {
		c := &wim.Entry{Name: strings.Repeat("n", 200), Attributes: wim.AttrDirectory}
		e.Children = []*wim.Entry{c}
		e = c
	}
	e.Children = leaves
	return root
}

// TestDiffDeepTree: Diff keeps one path buffer, not every ancestor's path
// (11.7 GB for a 5 MB WIM 8000 levels deep), and names the change right.
func TestDiffDeepTree(t *testing.T) {
	deep := func(leaf string) *wim.Metadata { return &wim.Metadata{Root: deepChain(3000, &wim.Entry{Name: leaf})} }
	a, b := deep("old"), deep("new")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	changes := Diff(a, b)
	runtime.ReadMemStats(&after)
	if len(changes) != 2 || changes[0].Kind != "+" || !strings.HasSuffix(changes[0].Path, "/"+strings.Repeat("n", 200)+"/new") ||
		len(changes[0].Path) != 3000*201+4 {
		t.Fatalf("%d changes, the first %.20q... of %d bytes", len(changes), changes[0].Kind, len(changes[0].Path))
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 20<<20 {
		t.Errorf("Diff allocated %d MB", got>>20)
	}
}

// TestFilterDeepTree: selecting for a restore keeps no path of every
// ancestor either, and finds the deep match.
func TestFilterDeepTree(t *testing.T) {
	root := deepChain(1500, &wim.Entry{Name: "a.txt"}, &wim.Entry{Name: "b.bin"})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	out, _ := Filter{Include: []string{"*.txt"}}.Normalized().Select(root)
	runtime.ReadMemStats(&after)
	for range 1500 {
		if out = out.Children[0]; out == nil {
			t.Fatal("the selection lost a level")
		}
	}
	if len(out.Children) != 1 || out.Children[0].Name != "a.txt" {
		t.Errorf("the deepest directory keeps %d entries", len(out.Children))
	}
	// The ancestors' paths together were 225 MB.
	if got := after.TotalAlloc - before.TotalAlloc; got > 100<<20 {
		t.Errorf("Select allocated %d MB", got>>20)
	}
}
