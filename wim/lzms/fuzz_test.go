package lzms

import (
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/codectest"
)

// fuzzMaxSize caps the chunk sizes FuzzDecode tries, so that garbage input
// that decodes to a long run of literals stays quick.
const fuzzMaxSize = 1 << 20

// FuzzDecode feeds arbitrary chunks and sizes to Decode: it must not panic,
// must return exactly size bytes or an error wrapping ErrCorrupt, must leave
// dst's existing bytes alone and must not allocate when dst has room.
func FuzzDecode(f *testing.F) {
	for _, g := range goldenChunks(f) {
		n := uint32(len(g.data))
		f.Add(g.comp, n)
		f.Add(g.comp, n+1)
		f.Add(g.comp, n/2)
		f.Add(g.comp[:len(g.comp)-2], n)
	}
	f.Add([]byte{0, 0, 0, 0}, uint32(1))
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0, 0}, uint32(2))
	f.Add(make([]byte, 64), uint32(300))
	f.Add([]byte{}, uint32(0))
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, src []byte, size32 uint32) {
		codectest.CheckDecode(t, d.Decode, src, int(size32%(fuzzMaxSize+1)), ErrCorrupt)
	})
}
