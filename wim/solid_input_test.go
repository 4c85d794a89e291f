package wim

import (
	"bytes"
	"encoding/binary"
	"io"
	"sync"
	"testing"
	"time"
)

// TestSolidLargeDecodesOneAtATime: large solid chunks (LZMS's 64 MiB; every
// chunk counts as large here) that several readers want at once are
// decompressed one at a time, so that only one chunk's compressed bytes
// are in memory besides the decompressed chunks; small ones are not held
// up. Reading is slowed so that decodes would overlap.
func TestSolidLargeDecodesOneAtATime(t *testing.T) {
	defer func(v int64) { maxPrefetchChunk = v }(maxPrefetchChunk)
	for _, tc := range []struct {
		name     string
		prefetch int64
		serial   bool
	}{
		{"large", 0, true},
		{"small", 1 << 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			maxPrefetchChunk = tc.prefetch
			const n = 4
			data, plain := makeSolidRes(t, n, 4096)
			r := &Reader{ra: slowReaderAt{bytes.NewReader(data)}, size: int64(len(data))}
			sr, err := openSolid(r.ra, r.size, resHdr{storedSize: int64(len(data))}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := sr.load(r.ra); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for k := range int64(n) {
				wg.Go(func() {
					got, err := r.decodeSolidChunk(sr, k)
					if err != nil || !bytes.Equal(got, plain[k*4096:(k+1)*4096]) {
						t.Errorf("chunk %d: %d bytes, %v", k, len(got), err)
					}
				})
			}
			wg.Wait()
			if got := r.solidInputs.peak.Load(); (got == 1) != tc.serial {
				t.Errorf("%d compressed chunks in memory at once (one at a time: %v)", got, tc.serial)
			}
		})
	}
}

// makeSolidRes returns a solid resource (header, chunk table, chunks) of n
// XPRESS chunks of size bytes each, all compressed, and its contents.
func makeSolidRes(t *testing.T, n int, size int) (res, plain []byte) {
	t.Helper()
	enc, err := newEncoder(CompressXPRESS, size)
	if err != nil {
		t.Fatal(err)
	}
	res = binary.LittleEndian.AppendUint64(nil, uint64(n*size))
	res = binary.LittleEndian.AppendUint32(res, uint32(size))
	res = binary.LittleEndian.AppendUint32(res, uint32(CompressXPRESS))
	var chunks []byte
	for k := range n {
		chunk := bytes.Repeat([]byte{byte(k), 'w', 'i', 'm'}, size/4)
		plain = append(plain, chunk...)
		c := enc.Encode(nil, chunk)
		if len(c) >= size {
			t.Fatalf("chunk %d did not compress", k)
		}
		res = binary.LittleEndian.AppendUint32(res, uint32(len(c)))
		chunks = append(chunks, c...)
	}
	return append(res, chunks...), plain
}

// slowReaderAt takes a while for every read, as a disk would for a 64 MiB
// chunk.
type slowReaderAt struct{ r io.ReaderAt }

func (s slowReaderAt) ReadAt(p []byte, off int64) (int, error) {
	time.Sleep(20 * time.Millisecond)
	return s.r.ReadAt(p, off)
}

// TestSolidLZMSReadAsDecoded: large LZMS chunks are read as they are
// decompressed, without a buffer for their compressed bytes.
func TestSolidLZMSReadAsDecoded(t *testing.T) {
	defer func(v int64) { maxPrefetchChunk = v }(maxPrefetchChunk)
	maxPrefetchChunk = 0
	_, r := readTestdata(t, "wimlib-solid-lzms.wim")
	if err := r.Verify(nil); err != nil {
		t.Fatal(err)
	}
	if r.solidDecoded.Load() == 0 {
		t.Fatal("no solid chunk decompressed")
	}
	if got := r.solidInputs.peak.Load(); got != 0 {
		t.Errorf("%d compressed chunks read whole, want 0", got)
	}
}
