//go:build wimlib

package codectest

import (
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/wimlibc"
)

// BenchWimlibEncode is BenchEncode for wimlib's compressor of type ctype at
// its default level, the reference for a codec's own benchmark.
func BenchWimlibEncode(b *testing.B, ctype int, data []byte, chunk int) {
	b.Helper()
	z, err := wimlibc.NewCompressor(ctype, chunk, wimlibc.DefaultLevel)
	if err != nil {
		b.Fatal(err)
	}
	defer z.Close()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	comp := 0
	for b.Loop() {
		comp = 0
		for p := 0; p < len(data); p += chunk {
			src := data[p:min(p+chunk, len(data))]
			if n := z.Compress(src); n > 0 {
				comp += n
			} else {
				comp += len(src)
			}
		}
	}
	b.ReportMetric(float64(comp)/float64(len(data)), "ratio")
}

// BenchWimlibDecode is BenchDecode for wimlib's decompressor of type ctype.
func BenchWimlibDecode(b *testing.B, ctype int, cs []Chunk, n int64, chunk int) {
	b.Helper()
	z, err := wimlibc.NewDecompressor(ctype, chunk)
	if err != nil {
		b.Fatal(err)
	}
	defer z.Close()
	out := make([]byte, chunk)
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range cs {
			if err := z.Decompress(out[:c.Size], c.Comp); err != nil {
				b.Fatal(err)
			}
		}
	}
}
