//go:build unix

package snapshot

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// TestOpenBeneath reopens a file below a directory with openat2 and with
// the fallback for kernels without it; neither follows a symlink on the
// way.
func TestOpenBeneath(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "a", "b", "f"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "f"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "f"), filepath.Join(root, "a", "flink")); err != nil {
		t.Fatal(err)
	}
	rootFD, err := openDir(unix.AT_FDCWD, root, false)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFD(rootFD)
	for name, open := range map[string]func(int, []string, int) (int, error){"openat2": openBeneath, "fallback": openBeneathSlow} {
		fd, err := open(rootFD, []string{"a", "b", "f"}, unix.O_WRONLY)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		closeFD(fd)
		for _, bad := range [][]string{{"link", "f"}, {"a", "flink"}} {
			if fd, err := open(rootFD, bad, unix.O_RDONLY); err == nil {
				closeFD(fd)
				t.Errorf("%s: opened %v through a symlink", name, bad)
			}
		}
	}
}

// TestReadReparseEmpty: an empty reparse stream (the zero hash) reads from
// a repository as no data, as from a WIM; the repository's source looked
// for it ("not in the repository's index"): a restore onto NTFS of an
// imported image with such a reparse point rebuilt the local index and
// reported damage. (The zero hash is read before any field is used.)
func TestReadReparseEmpty(t *testing.T) {
	data, err := readReparse(&repoSource{}, wim.Hash{})
	if err != nil || len(data) != 0 {
		t.Errorf("readReparse of the zero hash: %x, %v; want no data", data, err)
	}
}
