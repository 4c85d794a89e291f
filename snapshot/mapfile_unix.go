//go:build unix

package snapshot

import (
	"os"

	"golang.org/x/sys/unix"
)

// readMapped returns the contents of the file at path mapped read-only,
// and the function that unmaps them; the bytes must not be used after it.
// Mapping spares the copy and the fresh memory a read needs, which for a
// large image's metadata costs more than parsing it. An empty file is
// read as empty.
func readMapped(path string) ([]byte, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = f.Close() }() // read-only; the mapping outlives it
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if fi.Size() == 0 {
		return nil, func() {}, nil
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return b, func() { _ = unix.Munmap(b) }, nil
}
