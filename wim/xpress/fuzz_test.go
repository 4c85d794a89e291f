package xpress

import (
	"bytes"
	"errors"
	"testing"
)

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("a"))
	f.Add([]byte("abcabcabcabcabcabcabcabcabcabc"))
	f.Add(make([]byte, 1000))
	f.Add(textLike(1, 1500))
	f.Add(binaryLike(1, 1500))
	f.Add(append(randomBytes(9, 300), repeatWithPrefix(3, 33)...))
	f.Add(append(append(randomBytes(10, 300), repeatWithPrefix(12, 300)...), 7, 7))
	f.Add(repeatWithPrefix(7, 300))
	e, d := NewEncoder(), NewDecoder()
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > MaxChunkSize {
			src = src[:MaxChunkSize]
		}
		roundTrip(t, e, d, src)
	})
}

// FuzzDecode feeds arbitrary chunks to Decode: it must not panic, must
// return exactly size bytes or an error wrapping ErrCorrupt, and must leave
// dst's existing bytes alone.
func FuzzDecode(f *testing.F) {
	e := NewEncoder()
	for _, src := range [][]byte{
		textLike(2, 2000), binaryLike(2, 3000), make([]byte, 5000),
		repeatWithPrefix(3, 400), repeatWithPrefix(300, 70000)[:MaxChunkSize],
		// Matches of short offsets and long matches ending at or near the
		// end of the chunk, where the decoder leaves its fast loop.
		append(randomBytes(4, 300), repeatWithPrefix(1, 40)...),
		append(randomBytes(5, 300), repeatWithPrefix(7, 300)...),
		append(append(randomBytes(6, 300), repeatWithPrefix(9, 50)...), 1, 2, 3),
		append(append(randomBytes(7, 300), repeatWithPrefix(16, 1000)...), randomBytes(8, 20)...),
	} {
		f.Add(e.Encode(nil, src), uint32(len(src)))
		f.Add(e.Encode(nil, src), uint32(len(src)+1))
	}
	f.Add(make([]byte, 300), uint32(10))
	f.Add([]byte{}, uint32(0))
	d := NewDecoder()
	prefix := []byte("prefix")
	f.Fuzz(func(t *testing.T, src []byte, size32 uint32) {
		size := int(size32 % (MaxChunkSize + 2)) // includes one invalid size
		dst := append(make([]byte, 0, len(prefix)+size), prefix...)
		out, err := d.Decode(dst, src, size)
		if !bytes.Equal(out[:len(prefix)], prefix) {
			t.Fatal("Decode changed dst's existing bytes")
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			if len(out) != len(prefix) {
				t.Fatalf("failed Decode returned %d bytes", len(out)-len(prefix))
			}
			return
		}
		if len(out) != len(prefix)+size {
			t.Fatalf("Decode returned %d bytes, want %d", len(out)-len(prefix), size)
		}
		if cap(out) != cap(dst) {
			t.Fatal("Decode allocated though dst had room")
		}
	})
}

// TestDecodeMutated flips bytes of valid chunks: Decode must either succeed
// or fail with ErrCorrupt, never panic.
func TestDecodeMutated(t *testing.T) {
	e, d := NewEncoder(), NewDecoder()
	src := textLike(8, 20000)
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
