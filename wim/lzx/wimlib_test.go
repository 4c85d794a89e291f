//go:build wimlib

package lzx

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/corpus"
	"github.com/wimsnap/wimsnap/wim/internal/wimlibc"
)

// oracleInputs returns named chunk contents that exercise the codec:
// generated text, binary with E8 calls, real files, runs and random data.
func oracleInputs(n int) map[string][]byte {
	files := corpus.Files("/usr/bin", n)
	if len(files) < n {
		files = append(files, corpus.Binary(5, n-len(files))...)
	}
	return map[string][]byte{
		"text":   corpus.Text(1, n),
		"binary": corpus.Binary(2, n),
		"files":  files,
		"zeros":  make([]byte, n),
		"random": corpus.Random(3, n),
		"repeat": corpus.Repeat(1000, n),
		"short":  corpus.Text(4, 100),
		"tiny":   []byte("abcdefghijk"),
	}
}

// TestWimlibDecode decodes what wimlib's LZX compressor makes, for every
// chunk size and each of its parsers (lazy below level 35, near-optimal
// above), including short last chunks that keep the full window.
func TestWimlibDecode(t *testing.T) {
	for _, chunkSize := range []int{32768, 65536, 131072, 1 << 21} {
		d, err := NewDecoder(chunkSize)
		if err != nil {
			t.Fatal(err)
		}
		for _, level := range []uint{20, 50, 100} {
			for name, data := range oracleInputs(chunkSize) {
				for _, n := range []int{len(data), len(data) / 3} {
					src := data[:n]
					t.Run(fmt.Sprintf("%d/%d/%s/%d", chunkSize, level, name, n), func(t *testing.T) {
						comp, err := wimlibc.CompressBlock(wimlibc.LZX, src, chunkSize, level)
						if err != nil {
							t.Fatal(err)
						}
						if comp == nil {
							t.Skip("wimlib did not compress it")
						}
						got, err := d.Decode([]byte("x"), comp, len(src))
						if err != nil {
							t.Fatalf("Decode: %v", err)
						}
						if !bytes.Equal(got[1:], src) || got[0] != 'x' {
							t.Fatalf("decoded chunk differs at byte %d", firstDiff(got[1:], src))
						}
					})
				}
			}
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
