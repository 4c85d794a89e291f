package lzx

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/corpus"
)

// roundTrip encodes src with e, checks that d decodes it back and returns
// the compressed form.
func roundTrip(t testing.TB, e *Encoder, d *Decoder, src []byte) []byte {
	t.Helper()
	prefix := []byte("prefix")
	comp := e.Encode(prefix, src)
	if !bytes.Equal(comp[:len(prefix)], prefix) {
		t.Fatal("Encode changed dst's existing bytes")
	}
	comp = comp[len(prefix):]
	got, err := d.Decode(prefix, comp, len(src))
	if err != nil {
		t.Fatalf("Decode of %d-byte chunk (%d compressed): %v", len(src), len(comp), err)
	}
	if !bytes.Equal(got[:len(prefix)], prefix) {
		t.Fatal("Decode changed dst's existing bytes")
	}
	if got = got[len(prefix):]; !bytes.Equal(got, src) {
		t.Fatalf("round trip of %d bytes differs at byte %d", len(src), firstDiff(got, src))
	}
	return comp
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// inputs returns named test chunks of up to n bytes.
func inputs(n int) map[string][]byte {
	files := corpus.Files("/usr/bin", n)
	if len(files) < n {
		files = append(files, corpus.Binary(5, n-len(files))...)
	}
	e8 := bytes.Repeat([]byte{0xE8, 0, 0, 0, 0, 0xE8, 0xff, 0xff, 0xff, 0x7f, 0xE8}, n/11+1)[:n]
	return map[string][]byte{
		"text":   corpus.Text(1, n),
		"binary": corpus.Binary(2, n),
		"files":  files,
		"zeros":  make([]byte, n),
		"random": corpus.Random(3, n),
		"repeat": corpus.Repeat(1000, n),
		"period": corpus.Repeat(3, n),
		"e8":     e8,
	}
}

func TestRoundTrip(t *testing.T) {
	for _, chunkSize := range []int{MinChunkSize, 1 << 17, MaxChunkSize} {
		e, err := NewEncoder(chunkSize)
		if err != nil {
			t.Fatal(err)
		}
		d, err := NewDecoder(chunkSize)
		if err != nil {
			t.Fatal(err)
		}
		for name, data := range inputs(chunkSize) {
			for _, n := range []int{len(data), len(data) - 1, 32768, 1000, 11, 10, 3, 2, 1} {
				t.Run(fmt.Sprintf("%d/%s/%d", chunkSize, name, n), func(t *testing.T) {
					comp := roundTrip(t, e, d, data[:n])
					if name == "zeros" && n > 1000 && len(comp) > n/20 {
						t.Errorf("%d zeros compressed to %d bytes", n, len(comp))
					}
				})
			}
		}
	}
}

func TestEncodeEmpty(t *testing.T) {
	e, _ := NewEncoder(MinChunkSize)
	if out := e.Encode([]byte("x"), nil); string(out) != "x" {
		t.Fatalf("Encode(nil) = %q", out)
	}
}
