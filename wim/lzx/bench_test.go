package lzx

import (
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/codectest"
)

// benchData returns the benchmark inputs: 4 MiB of text and of binaries.
func benchData() (text, bin []byte) { return codectest.BenchData() }

const benchChunk = 32768 // WIM's LZX chunk size

func benchEncode(b *testing.B, data []byte) {
	b.Helper()
	e, _ := NewEncoder(benchChunk)
	dst := make([]byte, 0, 2*benchChunk)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	comp := 0
	for b.Loop() {
		comp = 0
		for p := 0; p < len(data); p += benchChunk {
			comp += min(len(e.Encode(dst[:0], data[p:min(p+benchChunk, len(data))])), benchChunk)
		}
	}
	b.ReportMetric(float64(comp)/float64(len(data)), "ratio")
}

// compChunk is one compressed chunk for the decoding benchmarks.
type compChunk struct {
	comp []byte
	size int
}

// benchChunks encodes data in benchChunk pieces and returns those that
// shrank (a WIM stores the others raw) and their total size.
func benchChunks(data []byte) (cs []compChunk, n int64) {
	e, _ := NewEncoder(benchChunk)
	for p := 0; p < len(data); p += benchChunk {
		src := data[p:min(p+benchChunk, len(data))]
		if c := e.Encode(nil, src); len(c) < len(src) {
			cs = append(cs, compChunk{c, len(src)})
			n += int64(len(src))
		}
	}
	return cs, n
}

func benchDecode(b *testing.B, data []byte) {
	b.Helper()
	d, _ := NewDecoder(benchChunk)
	cs, n := benchChunks(data)
	out := make([]byte, 0, benchChunk)
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range cs {
			if _, err := d.Decode(out[:0], c.comp, c.size); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkEncodeText(b *testing.B)   { t, _ := benchData(); benchEncode(b, t) }
func BenchmarkEncodeBinary(b *testing.B) { _, x := benchData(); benchEncode(b, x) }
func BenchmarkDecodeText(b *testing.B)   { t, _ := benchData(); benchDecode(b, t) }
func BenchmarkDecodeBinary(b *testing.B) { _, x := benchData(); benchDecode(b, x) }
