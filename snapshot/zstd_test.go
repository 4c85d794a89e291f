package snapshot

import (
	"bytes"
	"errors"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// streamed compresses data as a stream, its size not declared.
func streamed(t *testing.T, data []byte, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestExpandUndeclared: an object that does not declare its size expands
// when it fits the limit, and one that expands past it is refused without
// memory of its size: a 19 KB object of 600 MiB took 1.3 GB.
func TestExpandUndeclared(t *testing.T) {
	z := newZcodec()
	small := streamed(t, []byte("an object without its size\n"), 3)
	if got, err := z.expand(small, "object", 1<<20); err != nil || !bytes.Equal(got, bytes.Repeat([]byte("an object without its size\n"), 3)) {
		t.Fatalf("expand: %q, %v", got, err)
	}
	fits := streamed(t, make([]byte, 1<<20), 64) // 64 MiB, within the limit: allocated once
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := z.expand(fits, "object", maxZstdObject)
	runtime.ReadMemStats(&after)
	if err != nil || len(got) != 64<<20 || cap(got) != 64<<20 {
		t.Fatalf("expand of 64 MiB: %d bytes (capacity %d), %v", len(got), cap(got), err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 112<<20 { // the object, the decoders, not twice the object
		t.Errorf("expanding 64 MiB allocated %d MiB", grew>>20)
	}
	bomb := streamed(t, make([]byte, 1<<20), 600)
	runtime.ReadMemStats(&before)
	_, err = z.expand(bomb, "object", maxZstdObject)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrRepoFormat) {
		t.Errorf("expand of %d bytes to 600 MiB: %v, want it refused", len(bomb), err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("refusing it allocated %d MiB", grew>>20)
	}
}
