//go:build wimlib

package lzx

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/codectest"
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
							t.Fatalf("decoded chunk differs at byte %d", codectest.FirstDiff(got[1:], src))
						}
					})
				}
			}
		}
	}
}

// TestWimlibDecodesOurs has wimlib decompress the bit streams Encode makes,
// also those of chunks it stores raw.
func TestWimlibDecodesOurs(t *testing.T) {
	for _, chunkSize := range []int{32768, 1 << 17} {
		e, err := NewEncoder(chunkSize)
		if err != nil {
			t.Fatal(err)
		}
		for name, data := range inputs(chunkSize) {
			for _, n := range []int{len(data), len(data)/3 + 1, 11} {
				src := data[:n]
				comp := e.encode(nil, src, true)
				got, err := wimlibc.DecompressBlock(wimlibc.LZX, comp, n, chunkSize)
				if err != nil {
					t.Fatalf("%d/%s/%d: wimlib: %v", chunkSize, name, n, err)
				}
				if !bytes.Equal(got, src) {
					t.Fatalf("%d/%s/%d: wimlib's decoding differs at byte %d", chunkSize, name, n, codectest.FirstDiff(got, src))
				}
			}
		}
	}
}

// TestWimlibRatio compares compressed sizes with wimlib's default level on
// 32 KiB chunks of text, executables and binary-like data.
func TestWimlibRatio(t *testing.T) {
	const chunk = 32768
	e, _ := NewEncoder(chunk)
	for name, data := range map[string][]byte{
		"text": corpus.Files("/usr/include", 4<<20), "exe": corpus.Files("/usr/bin", 4<<20), "binary": corpus.Binary(9, 2<<20),
	} {
		ours, theirs := 0, 0
		for p := 0; p < len(data); p += chunk {
			src := data[p:min(p+chunk, len(data))]
			ours += min(len(e.Encode(nil, src)), len(src))
			c, err := wimlibc.CompressBlock(wimlibc.LZX, src, chunk, wimlibc.DefaultLevel)
			if err != nil {
				t.Fatal(err)
			}
			if c == nil {
				theirs += len(src)
			} else {
				theirs += len(c)
			}
		}
		t.Logf("%s: %d bytes: ours %d, wimlib %d (%+.2f%%)", name, len(data), ours, theirs, 100*(float64(ours)/float64(theirs)-1))
	}
}

func benchWimlibEncode(b *testing.B, data []byte) {
	b.Helper()
	codectest.BenchWimlibEncode(b, wimlibc.LZX, data, benchChunk)
}

// benchWimlibDecode decompresses our encoding of data with wimlib, the
// counterpart of benchDecode.
func benchWimlibDecode(b *testing.B, data []byte) {
	b.Helper()
	cs, n := benchChunks(data)
	codectest.BenchWimlibDecode(b, wimlibc.LZX, cs, n, benchChunk)
}

func BenchmarkWimlibEncodeText(b *testing.B)   { t, _ := benchData(); benchWimlibEncode(b, t) }
func BenchmarkWimlibEncodeBinary(b *testing.B) { _, x := benchData(); benchWimlibEncode(b, x) }
func BenchmarkWimlibDecodeText(b *testing.B)   { t, _ := benchData(); benchWimlibDecode(b, t) }
func BenchmarkWimlibDecodeBinary(b *testing.B) { _, x := benchData(); benchWimlibDecode(b, x) }
