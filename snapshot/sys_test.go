//go:build unix

package snapshot

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadDirNames lists a directory whose records take many reads of a
// small buffer, with long and non-UTF-8 names, as os.ReadDir does.
func TestReadDirNames(t *testing.T) {
	dir := t.TempDir()
	var want []string
	for i := range 300 {
		name := strings.Repeat("n", i%200+1) + string(rune('a'+i%26)) + "\xff" + string(rune('0'+i%10))
		name = name[:min(len(name), 255)]
		if slices.Contains(want, name) {
			continue
		}
		want = append(want, name)
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFD(fd)
	got, err := readDirNames(fd, make([]byte, 1024))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("listed %d names, want %d", len(got), len(want))
	}
}

// TestEachDirentMalformed: records that run past the buffer or are too
// short to hold a name are an error, not a panic.
func TestEachDirentMalformed(t *testing.T) {
	record := func(ino uint64, reclen uint16, name string) []byte {
		b := make([]byte, direntName, int(reclen))
		binary.NativeEndian.PutUint64(b[direntIno:], ino)
		binary.NativeEndian.PutUint16(b[direntReclen:], reclen)
		b = append(b, name...)
		return append(b, make([]byte, int(reclen)-len(b))...)
	}
	good := append(append(record(1, 24, "."), record(0, 24, "gone")...), record(7, 24, "kept")...)
	var names []string
	if err := eachDirent(good, func(n []byte) { names = append(names, string(n)) }); err != nil || !slices.Equal(names, []string{"kept"}) {
		t.Fatalf("names %q, err %v", names, err)
	}
	for _, bad := range [][]byte{
		good[:30],               // cut in the middle of a record
		record(1, 24, "x")[:10], // shorter than a header
		append(record(1, 24, "x")[:16], 4, 0, 0, 0, 0, 0, 0, 0), // record length below the header
	} {
		if err := eachDirent(bad, func([]byte) {}); err == nil {
			t.Errorf("no error for % x", bad)
		}
	}
}
