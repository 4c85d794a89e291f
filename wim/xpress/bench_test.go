package xpress

import (
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/codectest"
	"github.com/wimsnap/wimsnap/wim/internal/corpus"
)

// benchData returns the benchmark inputs: 4 MiB of text and of binaries.
func benchData() (text, bin []byte) { return codectest.BenchData() }

const benchChunk = 32768 // the WIM default XPRESS chunk size

func benchEncode(b *testing.B, data []byte) {
	b.Helper()
	e := NewEncoder()
	dst := make([]byte, 0, 2*MaxChunkSize)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	comp := 0
	for b.Loop() {
		comp = 0
		for p := 0; p < len(data); p += benchChunk {
			comp += min(len(e.Encode(dst[:0], data[p:min(p+benchChunk, len(data))])), benchChunk)
		}
	}
	b.ReportMetric(float64(comp)/float64(len(data)), "ratio")
}

// compChunk is one compressed chunk for decoding benchmarks.
type compChunk struct {
	comp []byte
	size int
}

// benchChunks encodes data in chunks of benchChunk bytes and returns the
// chunks that compressed (a WIM stores the others raw) and their total
// uncompressed size.
func benchChunks(data []byte) (cs []compChunk, n int64) {
	e := NewEncoder()
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
	d := NewDecoder()
	cs, n := benchChunks(data)
	out := make([]byte, 0, MaxChunkSize)
	b.SetBytes(n)
	b.ReportAllocs()
	b.ResetTimer()
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
func BenchmarkEncodeZeros(b *testing.B)  { benchEncode(b, make([]byte, 4<<20)) }
func BenchmarkEncodeRandom(b *testing.B) { benchEncode(b, corpus.Random(43, 4<<20)) }
func BenchmarkDecodeText(b *testing.B)   { t, _ := benchData(); benchDecode(b, t) }
func BenchmarkDecodeBinary(b *testing.B) { _, x := benchData(); benchDecode(b, x) }
func BenchmarkDecodeZeros(b *testing.B)  { benchDecode(b, make([]byte, 4<<20)) }
