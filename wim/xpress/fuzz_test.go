package xpress

import (
	"errors"
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/codectest"
	"github.com/wimsnap/wimsnap/wim/internal/corpus"
)

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("a"))
	f.Add([]byte("abcabcabcabcabcabcabcabcabcabc"))
	f.Add(make([]byte, 1000))
	f.Add(corpus.Text(1, 1500))
	f.Add(corpus.Binary(1, 1500))
	f.Add(append(corpus.Random(9, 300), corpus.Repeat(3, 33)...))
	f.Add(append(append(corpus.Random(10, 300), corpus.Repeat(12, 300)...), 7, 7))
	f.Add(corpus.Repeat(7, 300))
	e, fast, d := NewEncoder(), NewFastEncoder(), NewDecoder()
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > MaxChunkSize {
			src = src[:MaxChunkSize]
		}
		roundTrip(t, e, d, src)
		roundTrip(t, fast, d, src)
	})
}

// FuzzDecode feeds arbitrary chunks to Decode: it must not panic, must
// return exactly size bytes or an error wrapping ErrCorrupt, and must leave
// dst's existing bytes alone.
func FuzzDecode(f *testing.F) {
	e := NewEncoder()
	for _, src := range [][]byte{
		corpus.Text(2, 2000), corpus.Binary(2, 3000), make([]byte, 5000),
		corpus.Repeat(3, 400), corpus.Repeat(300, 70000)[:MaxChunkSize],
		// Matches of short offsets and long matches ending at or near the
		// end of the chunk, where the decoder leaves its fast loop.
		append(corpus.Random(4, 300), corpus.Repeat(1, 40)...),
		append(corpus.Random(5, 300), corpus.Repeat(7, 300)...),
		append(append(corpus.Random(6, 300), corpus.Repeat(9, 50)...), 1, 2, 3),
		append(append(corpus.Random(7, 300), corpus.Repeat(16, 1000)...), corpus.Random(8, 20)...),
	} {
		f.Add(e.Encode(nil, src), uint32(len(src)))
		f.Add(e.Encode(nil, src), uint32(len(src)+1))
	}
	f.Add(make([]byte, 300), uint32(10))
	f.Add([]byte{}, uint32(0))
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, src []byte, size32 uint32) {
		size := int(size32 % (MaxChunkSize + 2)) // includes one invalid size
		codectest.CheckDecode(t, d.Decode, src, size, ErrCorrupt)
	})
}

// TestDecodeMutated flips bytes of valid chunks: Decode must either succeed
// or fail with ErrCorrupt, never panic.
func TestDecodeMutated(t *testing.T) {
	e, d := NewEncoder(), NewDecoder()
	src := corpus.Text(8, 20000)
	comp := e.Encode(nil, src)
	buf := make([]byte, len(comp))
	var out []byte
	for i := 0; i < len(comp); i += 7 {
		for _, x := range []byte{1, 0x80, 0xff} {
			copy(buf, comp)
			buf[i] ^= x
			var err error
			out, err = d.Decode(out[:0], buf, len(src))
			if err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatal(err)
			}
		}
	}
	// Truncations.
	for n := 0; n < len(comp); n += 13 {
		if _, err := d.Decode(nil, comp[:n], len(src)); err == nil && n < len(comp)-4 {
			t.Errorf("truncated to %d of %d bytes: no error", n, len(comp))
		}
	}
}
