package wim

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
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

// TestSolidReadAheadBounded: two readers going through the streams in
// SolidOrder, as apply's workers do, over chunks too large to read ahead
// freely (every chunk counts as large here) decompress each chunk about
// once, the next chunk alongside the current one, with never more than two
// chunk buffers in use besides one a stream spanning two chunks holds.
func TestSolidReadAheadBounded(t *testing.T) {
	defer func(v int64) { maxPrefetchChunk = v }(maxPrefetchChunk)
	maxPrefetchChunk = 0
	_, r := readTestdata(t, "solid/many.wim")
	var hashes []Hash
	var chunks int64
	for _, bl := range r.blobs {
		hashes = append(hashes, bl.hash)
		chunks = bl.solid.n
	}
	rank := func(h Hash) int { n, _ := r.SolidOrder(h); return n }
	slices.SortFunc(hashes, func(a, b Hash) int { return cmp.Compare(rank(a), rank(b)) })
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(hashes)); i = next.Add(1) - 1 {
				s, err := r.OpenStream(hashes[i])
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := io.Copy(io.Discard, s); err != nil {
					t.Error(err)
				}
				closeStream(s)
			}
		})
	}
	wg.Wait()
	waitDecodes(r, chunks)
	if got := r.solidDecoded.Load(); got > chunks+chunks/4 {
		t.Errorf("two readers in order decompressed %d chunks of %d", got, chunks)
	}
}

// TestChunkCacheReadAheadBounded steps two readers through the chunks of a
// resource whose chunks are read ahead only while fewer than two chunk
// buffers are in use: the next chunk is read alongside the first; the one
// after once no reader holds the first, into its buffer. Each reader holds
// the chunk it enters before it lets go of the one it leaves, as
// readSolid does.
func TestChunkCacheReadAheadBounded(t *testing.T) {
	var c chunkCache
	s := &solidRes{n: 4, chunkSize: 100}
	loads := make(chan int64, 10)
	load := func(k int64) func() ([]byte, error) {
		return func() ([]byte, error) {
			loads <- k
			buf := c.buffer(100)
			if k >= 2 && buf == nil {
				t.Errorf("chunk %d: no free buffer to reuse", k)
			}
			if buf == nil {
				buf = make([]byte, 0, 100)
			}
			return append(buf, byte(k)), nil
		}
	}
	// enter holds chunk k for a stream, reading k+1 ahead when there is
	// room, as solidChunk does, and returns the hold.
	enter := func(k int64) chunkRef {
		t.Helper()
		e, loadHere := c.hold(s, k)
		if loadHere {
			go c.finish(e, load(k))
		}
		c.prefetchBounded(s, k, load(k+1))
		data, ref, err := c.wait(e)
		if err != nil || data[0] != byte(k) {
			t.Fatalf("chunk %d: %v %v", k, data, err)
		}
		return ref
	}
	loaded := func(want ...int64) {
		t.Helper()
		var got []int64
		for range want {
			got = append(got, <-loads)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("loaded %v, want %v", got, want)
		}
		select {
		case k := <-loads:
			t.Fatalf("chunk %d loaded too", k)
		case <-time.After(20 * time.Millisecond):
		}
	}
	a := enter(0)
	loaded(0, 1)
	b := enter(0)
	loaded()
	a2 := enter(1) // b holds 0: no room for 2
	a.release()
	loaded()
	b2 := enter(1) // b itself still holds 0
	b.release()
	loaded()
	b3 := enter(1) // b's next stream: 0 is free
	b2.release()
	loaded(2)
	a3 := enter(2) // b holds 1: no room for 3
	a2.release()
	loaded()
	a4 := enter(2) // a's next stream: 1 is still held
	a3.release()
	loaded()
	b4 := enter(2) // b itself still holds 1
	b3.release()
	loaded()
	a5 := enter(2) // 1 is free
	a4.release()
	loaded(3)
	a5.release()
	b4.release()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.peak > solidCacheChunks {
		t.Errorf("%d chunk buffers in use at once, want at most %d", c.peak, solidCacheChunks)
	}
}

// TestSolidHugeSize: a solid resource header claiming close to 2^63 bytes
// is refused as malformed; its chunk count once overflowed to a negative
// number that passed the size check and made reading the table panic.
func TestSolidHugeSize(t *testing.T) {
	for _, size := range []uint64{1<<63 - 1, 1<<63 - 32768, 1 << 62} {
		b := make([]byte, 200)
		binary.LittleEndian.PutUint64(b, size)
		binary.LittleEndian.PutUint32(b[8:], 32768)
		binary.LittleEndian.PutUint32(b[12:], uint32(CompressXPRESS))
		_, err := openSolid(bytes.NewReader(b), int64(len(b)), resHdr{storedSize: int64(len(b))}, 0)
		if !errors.Is(err, ErrFormat) {
			t.Errorf("size %d: err %v, want ErrFormat", size, err)
		}
	}
}

// TestFindSolid: a blob's logical range is found in the one resource of
// its group that holds it whole, or in none.
func TestFindSolid(t *testing.T) {
	res := []*solidRes{{logical: 0, size: 10}, {logical: 10, size: 20}, {logical: 30, size: 5}}
	for _, c := range []struct {
		off, size int64
		want      int // index in res, -1: none
	}{
		{0, 10, 0}, {9, 1, 0}, {9, 2, -1}, {10, 20, 1}, {29, 1, 1}, {30, 5, 2}, {34, 1, 2}, {35, 1, -1}, {34, 2, -1}, {-1, 1, -1},
	} {
		got := findSolid(res, c.off, c.size)
		if c.want < 0 && got != nil || c.want >= 0 && got != res[c.want] {
			t.Errorf("findSolid(%d, %d) = %v, want res[%d]", c.off, c.size, got, c.want)
		}
	}
}

// TestCopySolidInOrder: copying the image of a solid WIM (optimize,
// export-image) decompresses each chunk about once: the streams are read
// in the order their bytes lie. In the tree's order a copy decompressed a
// chunk again for almost every stream, and that of a large ESD (64 MiB
// chunks) never ended.
func TestCopySolidInOrder(t *testing.T) {
	// wimlib-imagex capture of 48 random files of 1.5 to 3.8 KB, named
	// n00.c, n01.b, n02.a, n03.d, n04.c, ..., with --solid
	// --solid-compress=xpress --solid-chunk-size=4096: wimlib puts them
	// in the solid resource by extension, not in the tree's order.
	_, r := readTestdata(t, "solid/scattered.wim")
	var chunks int64
	for _, bl := range r.blobs {
		chunks = bl.solid.n
	}
	m, err := r.Metadata(1)
	if err != nil {
		t.Fatal(err)
	}
	var ranks []int
	err = m.Visit(func(e *Entry, _ func() string) error {
		if rank, ok := r.SolidOrder(e.Data.Hash); ok && !e.IsDir() {
			ranks = append(ranks, rank)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if slices.IsSorted(ranks) || chunks < 20 {
		t.Fatalf("the tree's order is the solid order (%v), or %d chunks are too few to tell", ranks, chunks)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "copy.wim"))
	if err != nil {
		t.Fatal(err)
	}
	defer closeFile(t, f)
	w, err := NewWriter(f, WithCompression(CompressXPRESS))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= r.ImageCount(); i++ {
		if err := CopyImage(t.Context(), w, r, i, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	waitDecodes(r, chunks)
	if got := r.solidDecoded.Load(); got > chunks+chunks/4 {
		t.Errorf("copying the image decompressed %d chunks of %d", got, chunks)
	}
}
