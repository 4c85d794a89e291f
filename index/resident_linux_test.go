package index

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
	"unsafe"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// TestReadAhead: a database out of the page cache is read back into it by
// ReadAhead, whole, unless it is larger than the read-ahead limit.
func TestReadAhead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idx.db")
	db := openTest(t, path)
	b := NewBatch()
	for i := range 150000 { // 14 MB: over the readahead window of one call (8 MiB on the disks here)
		b.AddChunk(id(strconv.Itoa(i)), Location{Offset: uint64(i), Stored: 1, Raw: 1})
	}
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	var size int64
	_ = db.view(func(tx *bolt.Tx) error { size = tx.Size(); return nil })

	evict(t, db, path, size)
	db.readAheadMax = size - 1
	db.ReadAhead()
	time.Sleep(200 * time.Millisecond)
	if got := residentShare(t, path, size); got > 0.5 {
		t.Errorf("%.0f%% of a database above the limit cached after ReadAhead, want it left out", 100*got)
	}

	db.readAheadMax = size
	db.ReadAhead()
	deadline := time.Now().Add(10 * time.Second)
	for residentShare(t, path, size) < 0.95 {
		if time.Now().After(deadline) {
			t.Fatalf("%.0f%% of the database cached 10 s after ReadAhead, want all of it", 100*residentShare(t, path, size))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// evict takes the database's file out of the page cache (its pages unmapped
// from the process first: the kernel keeps mapped pages), skipping the test
// where the file system keeps them anyway (tmpfs).
func evict(t *testing.T, db *DB, path string, size int64) {
	t.Helper()
	_ = db.view(func(tx *bolt.Tx) error {
		dropResident(tx.DB().Info().Data, tx.Size())
		return nil
	})
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	if got := residentShare(t, path, size); got > 0.1 {
		t.Skipf("the file system keeps %.0f%% of the file cached after FADV_DONTNEED", 100*got)
	}
}

// residentShare is the share of the pages of the first size bytes of path
// in the page cache (mincore of a mapping of its own, which faults nothing
// in). bbolt grows its file ahead of the pages it uses.
func residentShare(t *testing.T, path string, size int64) float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	m, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Munmap(m) }()
	pages := (len(m) + os.Getpagesize() - 1) / os.Getpagesize()
	vec := make([]byte, pages)
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return float64(n) / float64(pages)
}
