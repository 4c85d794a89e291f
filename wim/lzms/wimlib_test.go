//go:build wimlib

package lzms

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/codectest"
	"github.com/wimsnap/wimsnap/wim/internal/corpus"
	"github.com/wimsnap/wimsnap/wim/internal/wimlibc"
)

// oracleInputs returns named chunk contents that exercise the codec:
// generated text, binary with E8 calls, real executables and x86-like code
// (x86 filter), runs, random data and data made for delta matches.
func oracleInputs(n int) map[string][]byte {
	files := corpus.Files("/usr/bin", n)
	if len(files) < n {
		files = append(files, x86Code(5, n-len(files))...)
	}
	return map[string][]byte{
		"text":    corpus.Text(1, n),
		"binary":  corpus.Binary(2, n),
		"files":   files,
		"x86":     x86Code(6, n),
		"zeros":   make([]byte, n),
		"random":  corpus.Random(3, n),
		"repeat":  corpus.Repeat(1000, n),
		"count16": counters(n, 2, 3),
		"count32": counters(n, 4, 7),
		"image":   image(9, n, 3*97),
		"mixed":   mixed(1, n),
	}
}

// TestWimlibDecode decodes what wimlib's LZMS compressor makes at its three
// kinds of level (no delta matches below 35; more parser options from 45 and
// 60), for chunks from 4 bytes to 128 KiB (the non-solid chunk size),
// including short last chunks of a resource.
func TestWimlibDecode(t *testing.T) {
	const chunkSize = 131072
	d := NewDecoder()
	for _, level := range []uint{20, 50, 100} {
		for name, data := range oracleInputs(chunkSize) {
			for _, n := range []int{len(data), len(data)/3 + 1, 5000, 300, 20, 4} {
				t.Run(fmt.Sprintf("%d/%s/%d", level, name, n), func(t *testing.T) {
					checkWimlib(t, d, data[:n], chunkSize, level)
				})
			}
		}
	}
}

// TestWimlibDecodeLarge decodes chunks of several MiB, as in solid
// resources, where offsets need more slots.
func TestWimlibDecodeLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("slow to compress")
	}
	const chunkSize = 5 << 20
	d := NewDecoder()
	inputs := oracleInputs(chunkSize)
	for _, name := range []string{"files", "count16", "mixed"} {
		t.Run(name, func(t *testing.T) {
			checkWimlib(t, d, inputs[name], 8<<20, 50)
		})
	}
}

// checkWimlib compresses src with wimlib for chunks of up to chunkSize
// bytes and checks that d decodes it.
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
		t.Fatalf("decoded chunk differs at byte %d", codectest.FirstDiff(got[1:], src))
	}
	got, err = d.DecodeAt(got[:0], bytes.NewReader(comp), 0, int64(len(comp)), len(src))
	if err != nil {
		t.Fatalf("DecodeAt: %v", err)
	}
	if !bytes.Equal(got, src) {
		t.Fatalf("DecodeAt: decoded chunk differs at byte %d", codectest.FirstDiff(got, src))
	}
}

// update rewrites the golden chunks in TestGoldenUpdate.
var update = flag.Bool("update", false, "rewrite testdata/*.lzms with wimlib")

// goldenSpecs are the golden chunks: kind, seed, size and level, each a few
// hundred bytes to a few KiB compressed.
var goldenSpecs = []struct {
	kind        string
	seed        uint64
	size, level int
}{
	{"text", 11, 2000, 50},
	{"binary", 12, 3000, 100},
	{"x86", 13, 4000, 50},
	{"x86", 14, 600, 20},
	{"count16", 3, 3000, 100},
	{"count32", 5, 2000, 50},
	{"image", 5, 4000, 100},
	{"repeat", 7, 1500, 20},
	{"zeros", 0, 1000, 50},
	{"mixed", 9, 8000, 100},
}

// TestGoldenUpdate checks the golden chunks against wimlib's decompressor,
// after rewriting them with its compressor if -update is given.
func TestGoldenUpdate(t *testing.T) {
	if *update {
		for _, g := range goldenSpecs {
			data, err := generated(g.kind, g.seed, g.size)
			if err != nil {
				t.Fatal(err)
			}
			comp, err := wimlibc.CompressBlock(wimlibc.LZMS, data, benchChunk, uint(g.level))
			if err != nil || comp == nil {
				t.Fatalf("%s: compressing: %v", g.kind, err)
			}
			name := fmt.Sprintf("%s-%d-%d-%d.lzms", g.kind, g.seed, g.size, g.level)
			if err := os.WriteFile(filepath.Join("testdata", name), comp, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, g := range goldenChunks(t) {
		got, err := wimlibc.DecompressBlock(wimlibc.LZMS, g.comp, len(g.data), benchChunk)
		if err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		if !bytes.Equal(got, g.data) {
			t.Errorf("%s: wimlib decodes it differently", g.name)
		}
	}
}

// TestWimlibMutated decodes corrupted chunks with both decoders: whenever
// both succeed, the outputs must be the same, and Decode must never accept
// what wimlib rejects. Decode may reject more: streams that read past
// their ends.
func TestWimlibMutated(t *testing.T) {
	d := NewDecoder()
	z, err := wimlibc.NewDecompressor(wimlibc.LZMS, benchChunk)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	stricter, same := 0, 0
	for _, g := range goldenChunks(t) {
		buf := make([]byte, len(g.comp))
		want := make([]byte, len(g.data))
		for i := range g.comp {
			for _, x := range []byte{1, 0x10, 0x80} {
				copy(buf, g.comp)
				buf[i] ^= x
				wimErr := z.Decompress(want, buf)
				got, err := d.Decode(nil, buf, len(want))
				switch {
				case err == nil && wimErr != nil:
					t.Fatalf("%s: byte %d ^ %#x: Decode accepts what wimlib rejects", g.name, i, x)
				case err != nil && wimErr == nil:
					stricter++
				case err == nil && !bytes.Equal(got, want):
					t.Fatalf("%s: byte %d ^ %#x: outputs differ at %d", g.name, i, x, codectest.FirstDiff(got, want))
				case err == nil:
					same++
				}
			}
		}
	}
	t.Logf("%d corrupted chunks decoded alike, %d rejected only by Decode", same, stricter)
}

// benchChunk is the chunk size of non-solid LZMS resources.
const benchChunk = 131072

// benchChunks is text and binary data compressed with wimlib in chunks of
// benchChunk bytes (those it could not shrink left out, as a WIM stores
// them raw), made once for all benchmarks.
var benchChunks = sync.OnceValue(func() map[string]benchSet {
	text, bin := codectest.BenchData()
	return map[string]benchSet{"text": compressSet(text), "binary": compressSet(bin)}
})

// benchSet is compressed chunks and the bytes they expand to.
type benchSet struct {
	chunks []codectest.Chunk
	total  int64
}

func compressSet(data []byte) benchSet {
	enc := func(dst, src []byte) []byte {
		c, err := wimlibc.CompressBlock(wimlibc.LZMS, src, benchChunk, wimlibc.DefaultLevel)
		if err != nil {
			panic(err)
		}
		if c == nil {
			return append(dst, src...) // not smaller: left out
		}
		return append(dst, c...)
	}
	var s benchSet
	s.chunks, s.total = codectest.CompressChunks(enc, data, benchChunk)
	return s
}

func benchDecode(b *testing.B, name string) {
	b.Helper()
	s := benchChunks()[name]
	codectest.BenchDecode(b, NewDecoder().Decode, s.chunks, s.total, benchChunk)
}

func benchWimlibDecode(b *testing.B, name string) {
	b.Helper()
	s := benchChunks()[name]
	codectest.BenchWimlibDecode(b, wimlibc.LZMS, s.chunks, s.total, benchChunk)
}

func BenchmarkDecodeLZMSText(b *testing.B)         { benchDecode(b, "text") }
func BenchmarkDecodeLZMSBinary(b *testing.B)       { benchDecode(b, "binary") }
func BenchmarkWimlibDecodeLZMSText(b *testing.B)   { benchWimlibDecode(b, "text") }
func BenchmarkWimlibDecodeLZMSBinary(b *testing.B) { benchWimlibDecode(b, "binary") }

// TestWimlibDecodesEncoder: wimlib decompresses what Encode makes, for
// every oracle input in chunks from 16 bytes to 128 KiB (the non-solid
// chunk size) and one of 5 MiB, and the sizes are logged against wimlib's
// own level 50.
func TestWimlibDecodesEncoder(t *testing.T) {
	const chunkSize = 131072
	e := NewEncoder()
	check := func(t *testing.T, src []byte, maxBlock int) {
		t.Helper()
		c := e.Encode(nil, src)
		if len(c) >= len(src) {
			return // stored raw
		}
		got, err := wimlibc.DecompressBlock(wimlibc.LZMS, c, len(src), maxBlock)
		if err != nil {
			t.Fatalf("%d bytes: wimlib rejects our output: %v", len(src), err)
		}
		if !bytes.Equal(got, src) {
			t.Fatalf("%d bytes: wimlib decodes our output differently at %d", len(src), codectest.FirstDiff(got, src))
		}
	}
	for name, data := range oracleInputs(chunkSize) {
		t.Run(name, func(t *testing.T) {
			for _, n := range []int{len(data), len(data)/3 + 1, 5000, 300, 20, 16} {
				check(t, data[:n], chunkSize)
			}
			ours := len(e.Encode(nil, data))
			theirs, err := wimlibc.CompressBlock(wimlibc.LZMS, data, chunkSize, wimlibc.DefaultLevel)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d bytes: ours %d, wimlib %d", len(data), ours, len(theirs))
		})
	}
	large := oracleInputs(5 << 20)["files"]
	check(t, large, 8<<20)
}

// encodeBenchData returns the benchmark data the encoding benchmarks
// compress: text or binaries.
func encodeBenchData(text bool) []byte {
	t, bin := codectest.BenchData()
	if text {
		return t
	}
	return bin
}

// benchEncode measures Encode, and wimlib's compressor at its default
// level, on the benchmark data in chunks of benchChunk bytes; both report
// their output's ratio.
func benchEncode(b *testing.B, text bool) {
	b.Helper()
	codectest.BenchEncode(b, NewEncoder().Encode, encodeBenchData(text), benchChunk)
}

func benchWimlibEncode(b *testing.B, text bool) {
	b.Helper()
	codectest.BenchWimlibEncode(b, wimlibc.LZMS, encodeBenchData(text), benchChunk)
}

func BenchmarkEncodeLZMSText(b *testing.B)         { benchEncode(b, true) }
func BenchmarkEncodeLZMSBinary(b *testing.B)       { benchEncode(b, false) }
func BenchmarkWimlibEncodeLZMSText(b *testing.B)   { benchWimlibEncode(b, true) }
func BenchmarkWimlibEncodeLZMSBinary(b *testing.B) { benchWimlibEncode(b, false) }
