package lzms

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/codectest"
	"github.com/wimsnap/wimsnap/wim/internal/corpus"
)

// encodeKinds are the generated inputs the encoder's tests use.
var encodeKinds = []string{"text", "binary", "random", "repeat", "zeros", "count16", "count32", "image", "x86", "mixed"}

// shrinks are the kinds that LZ matches compress to under 3/4.
var shrinks = map[string]bool{"text": true, "binary": true, "repeat": true, "zeros": true, "x86": true}

// roundTrip encodes src with e and checks that d gives it back, or that
// Encode returned src itself; it returns the encoded size.
func roundTrip(t *testing.T, e *Encoder, d *Decoder, src []byte) int {
	t.Helper()
	c := e.Encode([]byte("x"), src)
	if c[0] != 'x' {
		t.Fatal("Encode changed dst's existing bytes")
	}
	c = c[1:]
	if len(c) >= len(src) {
		if !bytes.Equal(c, src) {
			t.Fatalf("%d bytes: Encode returned %d bytes that are not src", len(src), len(c))
		}
		return len(c)
	}
	got, err := d.Decode(nil, c, len(src))
	if err != nil {
		t.Fatalf("%d bytes: decoding the encoder's output: %v", len(src), err)
	}
	if !bytes.Equal(got, src) {
		t.Fatalf("%d bytes: decoded output differs at %d", len(src), codectest.FirstDiff(got, src))
	}
	return len(c)
}

// TestEncodeRoundTrip encodes every kind of input at sizes from nothing to
// 1 MiB with one encoder (so state left from a larger chunk meets a smaller
// one), and checks that those LZ matches compress shrink (counters and
// images need the delta matches the encoder does not make).
func TestEncodeRoundTrip(t *testing.T) {
	e, d := NewEncoder(), NewDecoder()
	for _, kind := range encodeKinds {
		for i, n := range []int{1 << 20, 0, 1, 15, 16, 17, 18, 100, 4096, 32768, 131072, 70001} {
			src, err := generated(kind, uint64(i+1), n) // seed 0 is no repeat period
			if err != nil {
				t.Fatal(err)
			}
			t.Run(fmt.Sprintf("%s/%d", kind, n), func(t *testing.T) {
				got := roundTrip(t, e, d, src)
				if n >= 4096 && shrinks[kind] && got > n*3/4 {
					t.Errorf("%d bytes of %s encoded to %d", n, kind, got)
				}
			})
		}
	}
	files := corpus.Files("/usr/bin", 1<<20)
	for off := 0; off < len(files); off += 131072 {
		roundTrip(t, e, d, files[off:min(off+131072, len(files))])
	}
}

// TestX86ApplyUndo: undo reverses apply on the x86 filter test's chunks in
// a row, each filter keeping its own state, and apply translates code.
func TestX86ApplyUndo(t *testing.T) {
	var fwd, back x86Filter
	changed := 0
	for _, in := range x86Inputs(t) {
		b := append([]byte(nil), in.data...)
		fwd.apply(b)
		if !bytes.Equal(b, in.data) {
			changed++
		}
		back.undo(b)
		if d := codectest.FirstDiff(b, in.data); d != len(in.data) {
			t.Fatalf("%s, %d bytes: differs at %d after apply and undo", in.kind, len(in.data), d)
		}
	}
	if changed < 10 {
		t.Errorf("apply changed only %d chunks", changed)
	}
}

// FuzzEncode checks that arbitrary chunks come back from Decode as Encode
// left them.
func FuzzEncode(f *testing.F) {
	for _, kind := range encodeKinds {
		src, err := generated(kind, 1, 3000)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte{})
	f.Add(x86Code(2, 300))
	e, d := NewEncoder(), NewDecoder()
	f.Fuzz(func(t *testing.T, src []byte) {
		roundTrip(t, e, d, src)
	})
}
