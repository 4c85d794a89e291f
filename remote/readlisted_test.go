package remote_test

import (
	"bytes"
	"errors"
	"runtime"
	"testing"

	"github.com/wimsnap/wimsnap/remote"
)

// TestReadListed: an object listed larger than the limit is refused
// unread; one longer than listed is refused; one shorter is returned as
// read; and an object read takes one buffer of its size, where ReadAll's
// grows to about twice it.
func TestReadListed(t *testing.T) {
	ctx := t.Context()
	s := remote.NewMemory()
	data := bytes.Repeat([]byte("pack"), 4<<20) // 16 MiB
	if err := s.Put(ctx, "packs/x", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	n := int64(len(data))
	if _, err := remote.ReadListed(ctx, s, "packs/x", 1<<40, 1<<30); !errors.Is(err, remote.ErrTooLarge) {
		t.Errorf("listed over the limit: %v", err)
	}
	if _, err := remote.ReadListed(ctx, s, "packs/x", n-1, 1<<30); !errors.Is(err, remote.ErrTooLarge) {
		t.Errorf("longer than listed: %v", err)
	}
	if b, err := remote.ReadListed(ctx, s, "packs/x", n+10, 1<<30); err != nil || !bytes.Equal(b, data) {
		t.Errorf("shorter than listed: %d bytes, %v", len(b), err)
	}
	var got []byte
	var err error
	// The memory store copies the object on Get: one copy is the store's.
	allocated := bytesAllocated(func() { got, err = remote.ReadListed(ctx, s, "packs/x", n, 1<<30) })
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %d bytes, %v", len(got), err)
	}
	if allocated > uint64(2*n+1<<20) {
		t.Errorf("allocated %d bytes for an object of %d", allocated, n)
	}
}

func bytesAllocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
