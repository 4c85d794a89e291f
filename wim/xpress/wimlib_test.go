//go:build wimlib

package xpress

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/codectest"
	"github.com/wimsnap/wimsnap/wim/internal/corpus"
	"github.com/wimsnap/wimsnap/wim/internal/wimlibc"
)

// corpusChunk is one chunk of a differential-test corpus.
type corpusChunk struct {
	name string
	data []byte
}

// chunks splits data into chunks of size bytes.
func chunks(name string, data []byte, size int) []corpusChunk {
	var out []corpusChunk
	for len(data) > 0 {
		n := min(len(data), size)
		out = append(out, corpusChunk{name, data[:n]})
		data = data[n:]
	}
	return out
}

// textCorpus returns text-like data: C headers and plain-text docs, or
// generated text when the system has none.
func textCorpus() []byte {
	var data []byte
	for _, dir := range []string{"/usr/include", "/usr/share/common-licenses"} {
		data = append(data, corpus.Files(dir, 4<<20)...)
	}
	if len(data) < 1<<20 {
		data = append(data, corpus.Text(11, 2<<20)...)
	}
	return data
}

// binaryCorpus returns executables, or generated binary-like data.
func binaryCorpus() []byte {
	data := corpus.Files("/usr/bin", 6<<20)
	if len(data) < 1<<20 {
		data = append(data, corpus.Binary(12, 2<<20)...)
	}
	return data
}

// edgeCorpus returns inputs aimed at the format's corners.
func edgeCorpus() []corpusChunk {
	var out []corpusChunk
	add := func(name string, b []byte) { out = append(out, corpusChunk{name, b}) }
	add("zeros 64KiB", make([]byte, MaxChunkSize))
	add("zeros 32KiB", make([]byte, 32768))
	add("random 32KiB", corpus.Random(7, 32768))
	add("period 3", bytes.Repeat([]byte("abc"), 21845))
	add("text 64KiB", corpus.Text(21, MaxChunkSize))
	add("binary 64KiB", corpus.Binary(22, MaxChunkSize))
	for _, l := range []int{17, 18, 19, 271, 272, 273, 274, 1000, 40000} {
		for lead := range 17 {
			add("match", append(corpus.Random(uint64(lead), 300+lead), corpus.Repeat(5, 5+l)...))
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 200 {
		var b []byte
		for len(b) < 20000+i*100 {
			b = append(b, corpus.Random(uint64(i*977+len(b)), r.IntN(30))...)
			if len(b) > 0 {
				off := 1 + r.IntN(len(b))
				for range 3 + r.IntN(400) {
					b = append(b, b[len(b)-off])
				}
			}
		}
		add("mixed", b[:min(len(b), MaxChunkSize)])
	}
	return out
}

// TestWimlibInterop checks both directions on every corpus chunk: wimlib's
// compressed output decodes exactly with Decode, and wimlib decompresses
// the output of Encode, by a default and by a fast encoder, exactly.
func TestWimlibInterop(t *testing.T) {
	var all []corpusChunk
	all = append(all, edgeCorpus()...)
	all = append(all, chunks("text", textCorpus()[:2<<20], 32768)...)
	all = append(all, chunks("binary", binaryCorpus()[:2<<20], MaxChunkSize)...)
	d := NewDecoder()
	theirs := 0
	for i, c := range all {
		wc, err := wimlibc.Compress(wimlibc.XPRESS, c.data)
		if err != nil {
			t.Fatal(err)
		}
		if wc == nil {
			continue
		}
		theirs++
		got, err := d.Decode(nil, wc, len(c.data))
		if err != nil {
			t.Fatalf("chunk %d (%s): decoding wimlib's output: %v", i, c.name, err)
		}
		if !bytes.Equal(got, c.data) {
			t.Fatalf("chunk %d (%s): decoding wimlib's output differs at %d", i, c.name, codectest.FirstDiff(got, c.data))
		}
	}
	ours := map[string]int{}
	for name, e := range map[string]*Encoder{"default": NewEncoder(), "fast": NewFastEncoder()} {
		for i, c := range all {
			oc := e.Encode(nil, c.data)
			if len(oc) >= len(c.data) {
				continue // a WIM stores this chunk raw
			}
			ours[name]++
			got, err := wimlibc.Decompress(wimlibc.XPRESS, oc, len(c.data))
			if err != nil {
				t.Fatalf("%s encoder, chunk %d (%s): wimlib rejects our output: %v", name, i, c.name, err)
			}
			if !bytes.Equal(got, c.data) {
				t.Fatalf("%s encoder, chunk %d (%s): wimlib decodes our output differently at %d", name, i, c.name, codectest.FirstDiff(got, c.data))
			}
		}
	}
	t.Logf("%d chunks: %d compressed by wimlib decoded by us; compressed by us and decoded by wimlib: %v", len(all), theirs, ours)
}

// storedSize returns the bytes a WIM holds for data in chunks of chunkSize
// compressed by compress (nil meaning "store raw").
func storedSize(t *testing.T, data []byte, chunkSize int, compress func([]byte) []byte) int {
	t.Helper()
	total := 0
	for _, c := range chunks("", data, chunkSize) {
		if b := compress(c.data); b != nil && len(b) < len(c.data) {
			total += len(b)
		} else {
			total += len(c.data)
		}
	}
	return total
}

// TestWimlibRatio compares the stored size of 32 KiB chunks (the WIM
// default) with wimlib's default XPRESS level. Ours may be at most 5%
// larger, on text (the bucket parse) and on executables (the hashed parse).
func TestWimlibRatio(t *testing.T) {
	e := NewEncoder()
	ourCompress := func(b []byte) []byte { return e.Encode(nil, b) }
	theirCompress := func(b []byte) []byte {
		c, err := wimlibc.Compress(wimlibc.XPRESS, b)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name  string
		data  []byte
		limit float64
	}{
		{"text", textCorpus(), 1.05},
		{"generated text", corpus.Text(31, 2<<20), 1.05},
		{"binary", binaryCorpus(), 1.05},
		{"generated binary", corpus.Binary(32, 2<<20), 1.05},
	} {
		ours := storedSize(t, tc.data, 32768, ourCompress)
		theirs := storedSize(t, tc.data, 32768, theirCompress)
		ratio := float64(ours) / float64(theirs)
		t.Logf("%-16s %9d bytes: ours %9d, wimlib %9d, ratio %.4f", tc.name, len(tc.data), ours, theirs, ratio)
		if tc.limit != 0 && ratio > tc.limit {
			t.Errorf("%s: compressed size %.2f%% larger than wimlib's, limit %.0f%%", tc.name, 100*(ratio-1), 100*(tc.limit-1))
		}
	}
}

func benchWimlib(b *testing.B, data []byte) {
	b.Helper()
	codectest.BenchWimlibEncode(b, wimlibc.XPRESS, data, benchChunk)
}

func BenchmarkWimlibEncodeText(b *testing.B)   { t, _ := benchData(); benchWimlib(b, t) }
func BenchmarkWimlibEncodeBinary(b *testing.B) { _, x := benchData(); benchWimlib(b, x) }
func BenchmarkWimlibEncodeZeros(b *testing.B)  { benchWimlib(b, make([]byte, 4<<20)) }
func BenchmarkWimlibEncodeRandom(b *testing.B) { benchWimlib(b, corpus.Random(43, 4<<20)) }

// benchWimlibDecode decompresses our encoding of data with wimlib, the
// counterpart of benchDecode.
func benchWimlibDecode(b *testing.B, data []byte) {
	b.Helper()
	cs, n := benchChunks(data)
	codectest.BenchWimlibDecode(b, wimlibc.XPRESS, cs, n, benchChunk)
}

func BenchmarkWimlibDecodeText(b *testing.B)   { t, _ := benchData(); benchWimlibDecode(b, t) }
func BenchmarkWimlibDecodeBinary(b *testing.B) { _, x := benchData(); benchWimlibDecode(b, x) }
func BenchmarkWimlibDecodeZeros(b *testing.B)  { benchWimlibDecode(b, make([]byte, 4<<20)) }
