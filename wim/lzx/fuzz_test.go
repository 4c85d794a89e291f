package lzx

import (
	"bytes"
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/codectest"
	"github.com/wimsnap/wimsnap/wim/internal/corpus"
)

// FuzzRoundTrip encodes arbitrary chunks and checks they decode back, for
// 32 KiB and 128 KiB chunk sizes.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{}, false)
	f.Add([]byte("a"), false)
	f.Add([]byte("abcabcabcabcabcabcabcabcabcabc"), true)
	f.Add(make([]byte, 1000), false)
	f.Add(corpus.Text(1, 1500), false)
	f.Add(corpus.Binary(1, 1500), true)
	f.Add(append(corpus.Random(9, 300), corpus.Repeat(3, 33)...), false)
	f.Add(bytes.Repeat([]byte{0xE8, 1, 2, 3, 4, 0xE8}, 50), false)
	small, _ := NewEncoder(MinChunkSize)
	large, _ := NewEncoder(1 << 17)
	ds, _ := NewDecoder(MinChunkSize)
	dl, _ := NewDecoder(1 << 17)
	f.Fuzz(func(t *testing.T, src []byte, big bool) {
		if big {
			roundTrip(t, large, dl, src[:min(len(src), 1<<17)])
		} else {
			roundTrip(t, small, ds, src[:min(len(src), MinChunkSize)])
		}
	})
}

// FuzzDecode feeds arbitrary chunks to Decode: it must not panic, must
// return exactly size bytes or an error wrapping ErrCorrupt, must leave
// dst's existing bytes alone, and must not allocate when dst has room.
func FuzzDecode(f *testing.F) {
	e, _ := NewEncoder(MinChunkSize)
	for _, src := range [][]byte{
		corpus.Text(2, 2000), corpus.Binary(2, 3000), make([]byte, 5000),
		corpus.Repeat(3, 400), corpus.Repeat(300, 32768),
		append(corpus.Random(4, 300), corpus.Repeat(1, 40)...),
		bytes.Repeat([]byte{0xE8, 0, 0, 0, 0}, 100),
	} {
		f.Add(e.encode(nil, src, true), uint32(len(src)))
		f.Add(e.encode(nil, src, true), uint32(len(src)+1))
	}
	f.Add(uncompressedBlock([]byte("hello, world")), uint32(12))
	f.Add(make([]byte, 300), uint32(10))
	f.Add([]byte{}, uint32(0))
	d, _ := NewDecoder(MinChunkSize)
	f.Fuzz(func(t *testing.T, src []byte, size32 uint32) {
		size := int(size32 % (MinChunkSize + 2)) // includes one invalid size
		codectest.CheckDecode(t, d.Decode, src, size, ErrCorrupt)
	})
}
