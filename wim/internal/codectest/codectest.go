// Package codectest holds the checks the codec packages' tests share:
// round trips, the contract of Decode on arbitrary input, and benchmark
// data. Only tests import it.
package codectest

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/corpus"
)

// Encoder is a codec's Encode method.
type Encoder func(dst, src []byte) []byte

// Decoder is a codec's Decode method.
type Decoder func(dst, src []byte, size int) ([]byte, error)

// FirstDiff returns the index of the first byte where a and b differ, or the
// shorter length.
func FirstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// RoundTrip encodes src after a prefix, checks that the prefix survives and
// that decoding gives src back, and returns the compressed form.
func RoundTrip(t testing.TB, enc Encoder, dec Decoder, src []byte) []byte {
	t.Helper()
	prefix := []byte("prefix")
	comp := enc(prefix, src)
	if !bytes.Equal(comp[:len(prefix)], prefix) {
		t.Fatal("Encode changed dst's existing bytes")
	}
	comp = comp[len(prefix):]
	got, err := dec(prefix, comp, len(src))
	if err != nil {
		t.Fatalf("Decode of %d-byte chunk (%d compressed): %v", len(src), len(comp), err)
	}
	if !bytes.Equal(got[:len(prefix)], prefix) {
		t.Fatal("Decode changed dst's existing bytes")
	}
	if got = got[len(prefix):]; !bytes.Equal(got, src) {
		t.Fatalf("round trip of %d bytes differs at byte %d", len(src), FirstDiff(got, src))
	}
	return comp
}

// CheckDecode decodes arbitrary src as a chunk of size bytes after a prefix,
// in a dst with room for them, and checks Decode's contract: the prefix
// survives; the result is exactly size more bytes, or an error wrapping
// errCorrupt with nothing added; and nothing is allocated.
func CheckDecode(t *testing.T, dec Decoder, src []byte, size int, errCorrupt error) {
	t.Helper()
	prefix := []byte("prefix")
	dst := append(make([]byte, 0, len(prefix)+size), prefix...)
	out, err := dec(dst, src, size)
	if !bytes.Equal(out[:len(prefix)], prefix) {
		t.Fatal("Decode changed dst's existing bytes")
	}
	if err != nil {
		if !errors.Is(err, errCorrupt) {
			t.Fatalf("error %v does not wrap %v", err, errCorrupt)
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
}

var (
	benchOnce           sync.Once
	benchText, benchBin []byte
)

// BenchData returns about 4 MiB each of text (C headers, else generated
// text) and executables (else generated binary-like data), the same for
// every benchmark of a run.
func BenchData() (text, bin []byte) {
	benchOnce.Do(func() {
		const n = 4 << 20
		benchText = corpus.Files("/usr/include", n)
		if len(benchText) < n {
			benchText = append(benchText, corpus.Text(41, n-len(benchText))...)
		}
		benchBin = corpus.Files("/usr/bin", n)
		if len(benchBin) < n {
			benchBin = append(benchBin, corpus.Binary(42, n-len(benchBin))...)
		}
	})
	return benchText, benchBin
}
