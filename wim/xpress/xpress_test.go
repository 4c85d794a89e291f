package xpress

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/codectest"
	"github.com/wimsnap/wimsnap/wim/internal/corpus"
)

// roundTrip encodes src with e, checks that d decodes it back and returns
// the compressed form: the bit stream even where it does not shrink src, so
// that every input tests it. It also checks that Encode gives that stream
// when it is smaller than src, and src itself when it is not.
func roundTrip(t testing.TB, e *Encoder, d *Decoder, src []byte) []byte {
	t.Helper()
	stream := func(dst, src []byte) []byte { return e.encode(dst, src, true) }
	comp := codectest.RoundTrip(t, stream, d.Decode, src)
	want, what := comp, "the stream"
	if len(comp) >= len(src) {
		want, what = src, "the input itself"
	}
	prefix := []byte("prefix")
	if got := e.Encode(prefix, src); !bytes.Equal(got[:len(prefix)], prefix) || !bytes.Equal(got[len(prefix):], want) {
		t.Fatalf("Encode of %d bytes (stream of %d): %d bytes, not %s", len(src), len(comp), len(got)-len(prefix), what)
	}
	return comp
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		src  []byte
	}{
		{"empty", nil},
		{"one byte", []byte{'x'}},
		{"two bytes", []byte{0, 0}},
		{"three same", []byte("aaa")},
		{"four same", []byte("aaaa")},
		{"short text", []byte("hello, hello, hello world")},
		{"all zero 64KiB", make([]byte, MaxChunkSize)},
		{"all zero 32KiB", make([]byte, 32768)},
		{"all 0xff 64KiB", bytes.Repeat([]byte{0xff}, MaxChunkSize)},
		{"random 64KiB", corpus.Random(1, MaxChunkSize)},
		{"random 1000", corpus.Random(2, 1000)},
		{"text 64KiB", corpus.Text(1, MaxChunkSize)},
		{"text 32KiB", corpus.Text(2, 32768)},
		{"text 300", corpus.Text(3, 300)},
		{"binary 64KiB", corpus.Binary(1, MaxChunkSize)},
		{"binary 32KiB", corpus.Binary(2, 32768)},
		{"period 2", bytes.Repeat([]byte("ab"), 30000)},
		{"period 3", bytes.Repeat([]byte("abc"), 20000)},
		{"period 65535", append(corpus.Random(3, 65535), 0)},
		{"far repeat", append(corpus.Random(4, 40000), corpus.Random(4, 25536)...)},
		{"256 symbols", func() []byte {
			b := make([]byte, 0, 4096)
			for i := range 4096 {
				b = append(b, byte(i), byte(i/256))
			}
			return b
		}()},
	}
	e, d := NewEncoder(), NewDecoder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := roundTrip(t, e, d, tt.src)
			t.Logf("%d -> %d", len(tt.src), len(c))
		})
	}
}

// parseInputs take every path of both parses: runs, skipping over
// incompressible data, lazy matches, matches extended backwards, a tail too
// short to hash.
func parseInputs() [][]byte {
	return [][]byte{
		nil, []byte("abc"), []byte("hello, hello, hello world"),
		corpus.Text(1, MaxChunkSize), corpus.Binary(2, 32768), corpus.Random(3, 20000),
		append(corpus.Random(4, 3000), corpus.Text(5, 3000)...),
		append(bytes.Repeat([]byte("ab"), 3000), corpus.Random(6, 777)...),
		corpus.Binary(7, MaxChunkSize), make([]byte, MaxChunkSize),
		append(corpus.Random(8, 9000), corpus.Random(8, 9000)...),
	}
}

// parsers are the encoder's parses, by name: the bucket parse of text, the
// hashed parse of other data, and the single-table parse of a fast encoder.
func parsers(e *Encoder) map[string]func([]byte) {
	return map[string]func([]byte){"text": e.parseText, "hashed": e.parseFast, "single": e.parseSingle}
}

// TestParseLiteralCounts: the literal frequencies each parse counts as it
// goes are those of the literals its sequences leave, and the sequences
// cover the input.
func TestParseLiteralCounts(t *testing.T) {
	e := NewEncoder()
	for name, parse := range parsers(e) {
		for i, src := range parseInputs() {
			parse(src)
			var want [256]uint32
			p := 0
			for _, q := range e.seqs {
				for _, b := range src[p : p+int(q.lits)] {
					want[b]++
				}
				p += int(q.lits + q.length)
			}
			if p != len(src) {
				t.Fatalf("%s parse, input %d: the sequences cover %d of %d bytes", name, i, p, len(src))
			}
			if got := [256]uint32(e.freq[:256]); got != want {
				t.Errorf("%s parse, input %d: literal counts differ from the sequences'", name, i)
			}
		}
	}
}

// TestParsesRoundTrip: the stream of either parse decodes to its input,
// whichever parse Encode would pick for it.
func TestParsesRoundTrip(t *testing.T) {
	e, d := NewEncoder(), NewDecoder()
	for name, parse := range parsers(e) {
		for i, src := range parseInputs() {
			parse(src)
			c := e.finish(nil, src, true)
			got, err := d.Decode(nil, c, len(src))
			if err != nil || !bytes.Equal(got, src) {
				t.Fatalf("%s parse, input %d: round trip failed (%v)", name, i, err)
			}
		}
	}
}

// TestFastEncoder: NewFastEncoder gives text the single-table parse (output
// unlike NewEncoder's, and larger), and its output decodes.
func TestFastEncoder(t *testing.T) {
	e, f, d := NewEncoder(), NewFastEncoder(), NewDecoder()
	text := corpus.Text(9, 32768)
	if ct, ft := e.Encode(nil, text), roundTrip(t, f, d, text); len(ft) <= len(ct) {
		t.Errorf("text: fast encoder gave %d bytes, the default %d; want more", len(ft), len(ct))
	}
	roundTrip(t, f, d, corpus.Binary(9, 32768))
}

// TestTextLike: the bucket parse gets text, the hashed parse the rest.
func TestTextLike(t *testing.T) {
	for _, tt := range []struct {
		src  []byte
		want bool
	}{
		{nil, true},
		{corpus.Text(1, 4096), true},
		{[]byte("#!/bin/sh\n\tset -e\r\n"), true},
		{corpus.Binary(1, 4096), false},
		{corpus.Random(1, 4096), false},
		{append(corpus.Text(3, 600), corpus.Random(3, 4096)...), true}, // judged by its start
		{append(make([]byte, 60), corpus.Text(2, 4096)...), false},
	} {
		if got := textLike(tt.src); got != tt.want {
			t.Errorf("textLike(%.20q...) = %v, want %v", tt.src, got, tt.want)
		}
	}
}

// TestMatchLengths covers every length around the escape boundaries, at
// offsets with 0..15 extra bits, with literals before the match shifting the
// bit position so that match symbols end on every position in a word,
// including exactly on a 16-bit boundary.
func TestMatchLengths(t *testing.T) {
	lengths := []int{3, 4, 16, 17, 18, 19, 100, 271, 272, 273, 274, 275, 1000, 32767, 32768, 65000}
	offsets := []int{1, 2, 3, 4, 7, 8, 100, 1000, 16383, 16384, 32768}
	e, d := NewEncoder(), NewDecoder()
	for _, off := range offsets {
		for _, l := range lengths {
			for lead := 0; lead < 20 && lead+off+l <= MaxChunkSize; lead++ {
				src := append(corpus.Random(uint64(lead), lead), corpus.Repeat(off, off+l)...)
				roundTrip(t, e, d, src)
			}
		}
	}
}

// TestWordBoundaries checks many streams built so that raw length bytes
// follow symbols ending at each bit position: matches of length >= 18
// separated by varying numbers of literals.
func TestWordBoundaries(t *testing.T) {
	e, d := NewEncoder(), NewDecoder()
	r := rand.New(rand.NewPCG(9, 9))
	for i := range 500 {
		b := repeatsInput(r, i, 60000, 40, true)
		roundTrip(t, e, d, b[:min(len(b), MaxChunkSize)])
	}
}

// repeatsInput returns input number i of at least size bytes, drawn from
// r: runs of up to maxLits-1 random bytes, each followed by a repeat of
// 18 to 317 earlier bytes (a match with a raw length byte) or, with short,
// one time in four of 3 to 22.
func repeatsInput(r *rand.Rand, i, size, maxLits int, short bool) []byte {
	var b []byte
	for len(b) < size {
		b = append(b, corpus.Random(uint64(i*1000+len(b)), r.IntN(maxLits))...)
		if len(b) > 0 {
			off := 1 + r.IntN(len(b))
			l := 18 + r.IntN(300)
			if short && r.IntN(4) == 0 {
				l = 3 + r.IntN(20)
			}
			for range l {
				b = append(b, b[len(b)-off])
			}
		}
	}
	return b
}

func TestRealFiles(t *testing.T) {
	e, d := NewEncoder(), NewDecoder()
	for _, dir := range []string{"/usr/share/doc", "/usr/bin"} {
		data := corpus.Files(dir, 8<<20)
		if len(data) == 0 {
			t.Logf("%s: no files", dir)
			continue
		}
		total := 0
		for len(data) > 0 {
			n := min(len(data), 32768)
			total += len(roundTrip(t, e, d, data[:n]))
			data = data[n:]
		}
		t.Logf("%s: %d compressed bytes", dir, total)
	}
}

// TestEncoderReuse checks that state from one chunk never leaks into the
// next: encoding a chunk gives the same bytes with a fresh or used encoder.
func TestEncoderReuse(t *testing.T) {
	used := NewEncoder()
	for i := range 5 {
		used.Encode(nil, corpus.Text(uint64(i), MaxChunkSize))
	}
	src := corpus.Text(99, 40000)
	want := NewEncoder().Encode(nil, src)
	if got := used.Encode(nil, src); !bytes.Equal(got, want) {
		t.Fatalf("reused encoder output differs")
	}
	var zero Encoder
	if got := zero.Encode(nil, src); !bytes.Equal(got, want) {
		t.Fatalf("zero Encoder output differs")
	}
}

func TestEncodeTooLarge(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Encode of an oversized chunk did not panic")
		}
	}()
	NewEncoder().Encode(nil, make([]byte, MaxChunkSize+1))
}

func TestAllocs(t *testing.T) {
	e, d := NewEncoder(), NewDecoder()
	src := corpus.Text(5, 32768)
	buf := make([]byte, 0, 2*MaxChunkSize)
	out := make([]byte, 0, MaxChunkSize)
	comp := e.Encode(nil, src)
	if n := testing.AllocsPerRun(20, func() { e.Encode(buf[:0], src) }); n != 0 {
		t.Errorf("Encode: %v allocations per chunk", n)
	}
	if n := testing.AllocsPerRun(20, func() { _, _ = d.Decode(out[:0], comp, len(src)) }); n != 0 {
		t.Errorf("Decode: %v allocations per chunk", n)
	}
}

// handStream builds a chunk from explicit code lengths and a bit writer
// program, for decoder tests.
func handStream(lens map[int]uint8, write func(w *bitWriter, codes *[numSymbols]uint16, lens *[numSymbols]uint8)) []byte {
	var l [numSymbols]uint8
	for s, v := range lens {
		l[s] = v
	}
	var count [maxCodeLen + 1]uint16
	for _, v := range l {
		count[v]++
	}
	count[0] = 0
	var codes [numSymbols]uint16
	assignCodes(&l, &count, &codes)
	out := make([]byte, tableBytes+1024)
	for i := range tableBytes {
		out[i] = l[2*i] | l[2*i+1]<<4
	}
	var w bitWriter
	w.init(out[tableBytes:])
	write(&w, &codes, &l)
	n := w.finish()
	return out[:tableBytes+n]
}

func TestDecodeCorrupt(t *testing.T) {
	lit := func(sym int) func(w *bitWriter, c *[numSymbols]uint16, l *[numSymbols]uint8) {
		return func(w *bitWriter, c *[numSymbols]uint16, l *[numSymbols]uint8) {
			w.put(uint32(c[sym]), uint(l[sym]))
			w.flush()
		}
	}
	twoSyms := map[int]uint8{'a': 1, 256 + 0x2f: 1} // 'a' and match len>=18, 2 offset bits
	tests := []struct {
		name string
		src  []byte
		size int
	}{
		{"short table", make([]byte, 100), 10},
		{"empty code", make([]byte, 300), 10},
		{"size negative", make([]byte, 300), -1},
		{"size too large", make([]byte, 300), MaxChunkSize + 1},
		{"oversubscribed", handStream(map[int]uint8{'a': 1, 'b': 1, 'c': 1}, lit('a')), 1},
		{"incomplete", handStream(map[int]uint8{'a': 1, 'b': 2}, lit('a')), 1},
		{"offset before start", handStream(map[int]uint8{'a': 1, 256: 1}, lit(256)), 3},
		{"match overruns", handStream(map[int]uint8{'a': 1, 256: 1}, func(w *bitWriter, c *[numSymbols]uint16, l *[numSymbols]uint8) {
			w.put(uint32(c['a']), 1)
			w.put(uint32(c[256]), 1)
		}), 3},
		{"truncated raw length", handStream(twoSyms, lit('a'))[:tableBytes+4], 30},
		{"truncated stream", handStream(map[int]uint8{'a': 1, 'b': 1}, lit('a'))[:tableBytes+2], 100},
	}
	d := NewDecoder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := d.Decode(dst, tt.src, tt.size)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Decode error = %v, want ErrCorrupt", err)
			}
			if string(got) != "keep" {
				t.Fatalf("Decode returned %q, want dst unchanged", got)
			}
		})
	}
}

// TestDecodeHandBuilt decodes streams written straight from the spec's
// rules, independent of the encoder's parser.
func TestDecodeHandBuilt(t *testing.T) {
	// Symbols: 'a', 'b', and matches with length header 15 and 0..2 offset
	// bits; all 2..3-bit codes.
	lens := map[int]uint8{'a': 2, 'b': 2, 256 + 0x0f: 2, 256 + 0x1f: 3, 256 + 0x2f: 3}
	for _, mlen := range []int{18, 19, 272, 273, 274, 65000} {
		for lead := 0; lead < 40; lead++ {
			want := make([]byte, 0, lead+mlen+2)
			src := handStream(lens, func(w *bitWriter, c *[numSymbols]uint16, l *[numSymbols]uint8) {
				put := func(s int) {
					w.put(uint32(c[s]), uint(l[s]))
					if w.n > 32 {
						w.flush()
					}
				}
				for i := range lead {
					s := 'a' + i%2
					put(s)
					want = append(want, byte(s))
				}
				if lead < 4 {
					put('b')
					put('a')
					put('b')
					want = append(want, "bab"...)
				}
				// Match with offset 2 + 1 = 3 (1 extra bit, value 1).
				put(256 + 0x1f)
				w.flush()
				if mlen-18 < 255 {
					w.raw(byte(mlen - 18))
				} else {
					w.raw(255)
					w.raw(byte(mlen - 3))
					w.raw(byte((mlen - 3) >> 8))
				}
				w.put(1, 1)
				for range mlen {
					want = append(want, want[len(want)-3])
				}
				put('a')
				want = append(want, 'a')
				w.flush()
				put(256 + 0x0f) // end symbol stand-in never decoded
			})
			got, err := NewDecoder().Decode(nil, src, len(want))
			if err != nil {
				t.Fatalf("len %d lead %d: %v", mlen, lead, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("len %d lead %d: differs at %d", mlen, lead, codectest.FirstDiff(got, want))
			}
		}
	}
}

func TestHuffmanLengths(t *testing.T) {
	tests := []struct {
		name string
		freq func(f *[numSymbols]uint32)
	}{
		{"one symbol", func(f *[numSymbols]uint32) { f[256] = 1 }},
		{"symbol zero alone", func(f *[numSymbols]uint32) { f[0] = 5 }},
		{"two symbols", func(f *[numSymbols]uint32) { f[1], f[2] = 1, 1000 }},
		{"uniform", func(f *[numSymbols]uint32) {
			for i := range f {
				f[i] = 7
			}
		}},
		{"fibonacci", func(f *[numSymbols]uint32) { // forces lengths > 15 unlimited
			a, b := uint32(1), uint32(1)
			for i := range 24 {
				f[i*3] = a
				a, b = b, a+b
			}
		}},
		{"skewed 512", func(f *[numSymbols]uint32) {
			for i := range f {
				f[i] = 1
			}
			f[256] = 65536
			f[0] = 30000
		}},
	}
	var b codeBuilder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f [numSymbols]uint32
			tt.freq(&f)
			var lens [numSymbols]uint8
			b.build(&f, &lens)
			kraft := 0
			for s, l := range lens {
				if l > maxCodeLen {
					t.Fatalf("symbol %d length %d", s, l)
				}
				if f[s] != 0 && l == 0 {
					t.Fatalf("used symbol %d has no code", s)
				}
				if l != 0 {
					kraft += 1 << (maxCodeLen - l)
				}
			}
			if kraft != 1<<maxCodeLen {
				t.Fatalf("Kraft sum %d/%d, want complete code", kraft, 1<<maxCodeLen)
			}
			// Decoder must accept it.
			var tbl [tableBytes]byte
			for i := range tbl {
				tbl[i] = lens[2*i] | lens[2*i+1]<<4
			}
			if err := NewDecoder().buildTable(tbl[:]); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestHuffmanOptimal compares unlimited code lengths against the expected
// optimum cost for small known cases.
func TestHuffmanOptimal(t *testing.T) {
	tests := []struct {
		freq []uint32
		cost int
	}{
		{[]uint32{1, 1}, 2},
		{[]uint32{1, 1, 2}, 6},                // 2,2,1
		{[]uint32{5, 9, 12, 13, 16, 45}, 224}, // CLRS example
	}
	var b codeBuilder
	for i, tt := range tests {
		var f [numSymbols]uint32
		copy(f[:], tt.freq)
		var lens [numSymbols]uint8
		b.build(&f, &lens)
		cost := 0
		for s, v := range tt.freq {
			cost += int(v) * int(lens[s])
		}
		if cost != tt.cost {
			t.Errorf("case %d: cost %d, want %d (lens %v)", i, cost, tt.cost, lens[:len(tt.freq)])
		}
	}
}

func ExampleEncoder() {
	e, d := NewEncoder(), NewDecoder()
	src := bytes.Repeat([]byte("wimsnap "), 100)
	comp := e.Encode(nil, src)
	if len(comp) >= len(src) {
		fmt.Println("store raw")
		return
	}
	out, err := d.Decode(nil, comp, len(src))
	fmt.Println(len(comp) < len(src), bytes.Equal(out, src), err)
	// Output: true true <nil>
}

// TestDecodeNearEnds puts matches of every short offset and many lengths at
// the end of the output, followed by 0..40 literals, so they are decoded
// both by the fast loop (word-sized copies) and by the careful loop near the
// ends of the input and output.
func TestDecodeNearEnds(t *testing.T) {
	e, d := NewEncoder(), NewDecoder()
	lengths := []int{3, 4, 5, 7, 8, 9, 15, 16, 17, 18, 19, 31, 32, 33, 40, 64, 65, 100, 272, 273, 300}
	for off := 1; off <= 40; off++ {
		for _, l := range lengths {
			for tail := 0; tail <= 40; tail += 3 {
				src := append(corpus.Random(uint64(off), 300), corpus.Repeat(off, off+l)...)
				src = append(src, corpus.Random(uint64(tail+1000), tail)...)
				roundTrip(t, e, d, src)
			}
		}
	}
}

// TestDecodePadded checks that bytes after a chunk's stream do not change
// its decoding: with padding the fast loop runs further into the stream.
func TestDecodePadded(t *testing.T) {
	e, d := NewEncoder(), NewDecoder()
	for i, src := range [][]byte{
		corpus.Text(40, 5000), corpus.Binary(41, 7000), corpus.Repeat(1, 3000),
		corpus.Repeat(5, 2000), append(corpus.Random(42, 400), corpus.Repeat(13, 500)...),
	} {
		comp := e.Encode(nil, src)
		for pad := 0; pad <= 16; pad++ {
			padded := append(append([]byte(nil), comp...), bytes.Repeat([]byte{0xa5}, pad)...)
			got, err := d.Decode(nil, padded, len(src))
			if err != nil {
				t.Fatalf("input %d, %d bytes padding: %v", i, pad, err)
			}
			if !bytes.Equal(got, src) {
				t.Fatalf("input %d, %d bytes padding: differs at %d", i, pad, codectest.FirstDiff(got, src))
			}
		}
	}
}
