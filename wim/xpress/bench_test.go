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
	codectest.BenchEncode(b, NewEncoder().Encode, data, benchChunk)
}

// benchChunks returns data cut into chunks and compressed by Encode, the
// input of the decoding benchmarks.
func benchChunks(data []byte) ([]codectest.Chunk, int64) {
	return codectest.CompressChunks(NewEncoder().Encode, data, benchChunk)
}

func benchDecode(b *testing.B, data []byte) {
	b.Helper()
	cs, n := benchChunks(data)
	codectest.BenchDecode(b, NewDecoder().Decode, cs, n, benchChunk)
}

func BenchmarkEncodeText(b *testing.B)   { t, _ := benchData(); benchEncode(b, t) }
func BenchmarkEncodeBinary(b *testing.B) { _, x := benchData(); benchEncode(b, x) }
func BenchmarkEncodeZeros(b *testing.B)  { benchEncode(b, make([]byte, 4<<20)) }
func BenchmarkEncodeRandom(b *testing.B) { benchEncode(b, corpus.Random(43, 4<<20)) }
func BenchmarkDecodeText(b *testing.B)   { t, _ := benchData(); benchDecode(b, t) }
func BenchmarkDecodeBinary(b *testing.B) { _, x := benchData(); benchDecode(b, x) }
func BenchmarkDecodeZeros(b *testing.B)  { benchDecode(b, make([]byte, 4<<20)) }

func benchFastEncode(b *testing.B, data []byte) {
	b.Helper()
	codectest.BenchEncode(b, NewFastEncoder().Encode, data, benchChunk)
}

func BenchmarkFastEncodeText(b *testing.B)   { t, _ := benchData(); benchFastEncode(b, t) }
func BenchmarkFastEncodeBinary(b *testing.B) { _, x := benchData(); benchFastEncode(b, x) }

// BenchmarkCode measures building the Huffman code of a small chunk (2 KiB
// of text), which a tree of small files does once per file.
func BenchmarkCode(b *testing.B) {
	t, _ := benchData()
	e := NewEncoder()
	e.parseText(t[:2048])
	e.tally()
	b.ReportAllocs()
	for b.Loop() {
		e.cb.build(&e.freq, &e.lens)
		e.cb.codes(&e.lens, &e.codes)
	}
}
