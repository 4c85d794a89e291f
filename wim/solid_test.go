package wim

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// TestSolidRandomAccess reads single streams from the middle of a solid
// resource of many small chunks: only the chunks a stream spans are
// decompressed (plus the one read ahead), and reading every stream in
// SolidOrder decompresses each chunk about once.
func TestSolidRandomAccess(t *testing.T) {
	// wimlib-imagex capture of 40 random files of 1.5 to 3.8 KB with
	// --solid --solid-compress=xpress --solid-chunk-size=4096.
	b, r := readTestdata(t, "solid/many.wim")
	var chunks int64
	var mid *blob
	for _, bl := range r.blobs {
		if bl.solid == nil {
			t.Fatalf("blob %x is not solid", bl.hash)
		}
		chunks = bl.solid.n
		if rank, _ := r.SolidOrder(bl.hash); rank == len(r.blobs)/2 {
			mid = bl
		}
	}
	if chunks < 20 {
		t.Fatalf("%d chunks, want many", chunks)
	}
	s, err := r.OpenStream(mid.hash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, s); err != nil {
		t.Fatal(err)
	}
	closeStream(s)
	span := (mid.res.offset+mid.res.size-1)/4096 - mid.res.offset/4096 + 1
	waitDecodes(r, span)
	if got := r.solidDecoded.Load(); got > span+1 {
		t.Errorf("reading one stream of %d chunks decompressed %d of %d chunks", span, got, chunks)
	}
	r2, _ := NewReader(bytes.NewReader(b), int64(len(b)))
	if err := r2.Verify(nil); err != nil {
		t.Fatal(err)
	}
	if got := r2.solidDecoded.Load(); got > chunks+chunks/4 {
		t.Errorf("reading every stream in order decompressed %d chunks of %d", got, chunks)
	}
}

// waitDecodes gives read-ahead goroutines a moment to finish counting.
func waitDecodes(r *Reader, atLeast int64) {
	for i := 0; i < 100 && r.solidDecoded.Load() < atLeast+1; i++ {
		time.Sleep(time.Millisecond)
	}
}
