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
	codectest.BenchEncode(b, e.Encode, data, benchChunk)
}

// benchChunks returns data cut into chunks and compressed by Encode, the
// input of the decoding benchmarks.
func benchChunks(data []byte) ([]codectest.Chunk, int64) {
	e, _ := NewEncoder(benchChunk)
	return codectest.CompressChunks(e.Encode, data, benchChunk)
}

func benchDecode(b *testing.B, data []byte) {
	b.Helper()
	d, _ := NewDecoder(benchChunk)
	cs, n := benchChunks(data)
	codectest.BenchDecode(b, d.Decode, cs, n, benchChunk)
}

func BenchmarkEncodeText(b *testing.B)   { t, _ := benchData(); benchEncode(b, t) }
func BenchmarkEncodeBinary(b *testing.B) { _, x := benchData(); benchEncode(b, x) }
func BenchmarkDecodeText(b *testing.B)   { t, _ := benchData(); benchDecode(b, t) }
func BenchmarkDecodeBinary(b *testing.B) { _, x := benchData(); benchDecode(b, x) }
