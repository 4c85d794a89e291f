//go:build wimlib

package lzms

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/corpus"
	"github.com/wimsnap/wimsnap/wim/internal/wimlibc"
)

// oracleInputs returns named chunk contents that exercise the codec:
// generated text, binary with E8 calls, real executables (x86 filter), runs,
// random data and data made for delta matches.
func oracleInputs(n int) map[string][]byte {
	files := corpus.Files("/usr/bin", n)
	if len(files) < n {
		files = append(files, corpus.Binary(5, n-len(files))...)
	}
	return map[string][]byte{
		"text":    corpus.Text(1, n),
		"binary":  corpus.Binary(2, n),
		"files":   files,
		"zeros":   make([]byte, n),
		"random":  corpus.Random(3, n),
		"repeat":  corpus.Repeat(1000, n),
		"count16": counters(n, 2, 3),
		"count32": counters(n, 4, 7),
		"image":   image(n, 3*97),
		"mixed":   mixed(n),
	}
}

// counters returns n bytes of little-endian counters of width bytes, going
// up by step: the bytes change linearly with a period of width, which is
// what delta matches capture.
func counters(n, width int, step uint64) []byte {
	b := make([]byte, 0, n+8)
	var w [8]byte
	for v := uint64(0); len(b) < n; v += step {
		binary.LittleEndian.PutUint64(w[:], v)
		b = append(b, w[:width]...)
	}
	return b[:n]
}

// image returns n bytes of rows of 3-byte pixels with smooth gradients and
// some noise, each row like the one before plus a little.
func image(n, row int) []byte {
	noise := corpus.Random(9, n)
	b := make([]byte, n)
	for i := range b {
		y, x := i/row, i%row
		b[i] = byte(x*(x%3+1)/2+y*(x%3)) + noise[i]&1
	}
	return b
}

// mixed returns n bytes alternating among the other kinds of input.
func mixed(n int) []byte {
	var b []byte
	for seed := uint64(0); len(b) < n; seed++ {
		k := 1000 + int(seed*7919%5000)
		switch seed % 5 {
		case 0:
			b = append(b, corpus.Text(seed, k)...)
		case 1:
			b = append(b, corpus.Binary(seed, k)...)
		case 2:
			b = append(b, counters(k, 2, seed)...)
		case 3:
			b = append(b, image(k, 64)...)
		default:
			b = append(b, corpus.Random(seed, k/8)...)
		}
	}
	return b[:n]
}

// TestWimlibDecode decodes what wimlib's LZMS compressor makes at its three
// kinds of level (no delta matches below 35; more parser options from 45 and
// 60), for chunk sizes from tiny to several MiB, including short last chunks
// of a resource's chunk size.
func TestWimlibDecode(t *testing.T) {
	sizes := []int{131072, 1 << 16, 1 << 22}
	if testing.Short() {
		sizes = sizes[:2]
	}
	d := NewDecoder()
	for _, chunkSize := range sizes {
		for _, level := range []uint{20, 50, 100} {
			for name, data := range oracleInputs(chunkSize) {
				for _, n := range []int{len(data), len(data)/3 + 1, 5000, 300, 20, 4} {
					src := data[:n]
					t.Run(fmt.Sprintf("%d/%d/%s/%d", chunkSize, level, name, n), func(t *testing.T) {
						checkWimlib(t, d, src, chunkSize, level)
					})
				}
			}
		}
	}
}

// checkWimlib compresses src with wimlib and checks that d decodes it.
func checkWimlib(t *testing.T, d *Decoder, src []byte, chunkSize int, level uint) {
	t.Helper()
	comp, err := wimlibc.CompressBlock(wimlibc.LZMS, src, chunkSize, level)
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
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// benchChunk is the chunk size of non-solid LZMS resources.
const benchChunk = 131072

// benchChunks is text and binary data compressed with wimlib in chunks of
// benchChunk bytes, made once for all benchmarks.
var benchChunks = sync.OnceValue(func() map[string]benchSet {
	const n = 4 << 20
	text := corpus.Files("/usr/include", n)
	if len(text) < n {
		text = append(text, corpus.Text(41, n-len(text))...)
	}
	bin := corpus.Files("/usr/bin", n)
	if len(bin) < n {
		bin = append(bin, corpus.Binary(42, n-len(bin))...)
	}
	return map[string]benchSet{"text": compressSet(text), "binary": compressSet(bin)}
})

// benchSet is data compressed in chunks; chunks wimlib could not shrink are
// left out, as a WIM stores them raw.
type benchSet struct {
	comp  [][]byte
	sizes []int
	total int64
}

func compressSet(data []byte) benchSet {
	var s benchSet
	for p := 0; p < len(data); p += benchChunk {
		src := data[p:min(p+benchChunk, len(data))]
		c, err := wimlibc.CompressBlock(wimlibc.LZMS, src, benchChunk, wimlibc.DefaultLevel)
		if err != nil {
			panic(err)
		}
		if c != nil {
			s.comp = append(s.comp, c)
			s.sizes = append(s.sizes, len(src))
			s.total += int64(len(src))
		}
	}
	return s
}

func benchDecode(b *testing.B, name string) {
	s := benchChunks()[name]
	d := NewDecoder()
	out := make([]byte, 0, benchChunk)
	b.SetBytes(s.total)
	b.ReportAllocs()
	for b.Loop() {
		for i, c := range s.comp {
			if _, err := d.Decode(out[:0], c, s.sizes[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func benchWimlibDecode(b *testing.B, name string) {
	s := benchChunks()[name]
	z, err := wimlibc.NewDecompressor(wimlibc.LZMS, benchChunk)
	if err != nil {
		b.Fatal(err)
	}
	defer z.Close()
	out := make([]byte, benchChunk)
	b.SetBytes(s.total)
	b.ReportAllocs()
	for b.Loop() {
		for i, c := range s.comp {
			if err := z.Decompress(out[:s.sizes[i]], c); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkDecodeLZMSText(b *testing.B)         { benchDecode(b, "text") }
func BenchmarkDecodeLZMSBinary(b *testing.B)       { benchDecode(b, "binary") }
func BenchmarkWimlibDecodeLZMSText(b *testing.B)   { benchWimlibDecode(b, "text") }
func BenchmarkWimlibDecodeLZMSBinary(b *testing.B) { benchWimlibDecode(b, "binary") }
