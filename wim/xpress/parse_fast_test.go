package xpress

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/corpus"
)

// checkParse checks what a parse of src left in e: sequences that cover src
// exactly, matches of at least minMatch bytes at offsets 1..position that
// copy src's own bytes, and literal counts that are those of the sequences
// with every other entry of e.freq zero.
func checkParse(t *testing.T, e *Encoder, src []byte) {
	t.Helper()
	var want [numSymbols]uint32
	p := 0
	for i, q := range e.seqs {
		if p+int(q.lits) > len(src) {
			t.Fatalf("seq %d: %d literals at %d run past the %d-byte input", i, q.lits, p, len(src))
		}
		for _, b := range src[p : p+int(q.lits)] {
			want[b]++
		}
		p += int(q.lits)
		if q.length == 0 {
			if i != len(e.seqs)-1 {
				t.Fatalf("seq %d: no match, but not the last", i)
			}
			continue
		}
		switch {
		case q.length < minMatch:
			t.Fatalf("seq %d: match of %d bytes at %d", i, q.length, p)
		case q.offset == 0 || int(q.offset) > p:
			t.Fatalf("seq %d: offset %d at position %d", i, q.offset, p)
		case p+int(q.length) > len(src):
			t.Fatalf("seq %d: match of %d bytes at %d runs past the %d-byte input", i, q.length, p, len(src))
		}
		for j := range int(q.length) {
			if src[p+j] != src[p+j-int(q.offset)] {
				t.Fatalf("seq %d: match at %d (length %d, offset %d) differs at byte %d", i, p, q.length, q.offset, j)
			}
		}
		p += int(q.length)
	}
	if p != len(src) {
		t.Fatalf("the sequences cover %d of %d bytes", p, len(src))
	}
	if e.freq != want {
		t.Fatalf("literal counts differ from the sequences'")
	}
}

// edgeInputs are short chunks, chunks of exactly MaxChunkSize bytes and
// chunks whose repeats reach their end, where the hashed parse's loads and
// table positions meet the chunk's end or the 16-bit limit.
func edgeInputs() map[string][]byte {
	in := map[string][]byte{}
	for n := range 41 {
		in[fmt.Sprintf("zeros %d", n)] = make([]byte, n)
		in[fmt.Sprintf("period 3, %d", n)] = bytes.Repeat([]byte{1, 2, 3}, n)[:n]
		in[fmt.Sprintf("random %d", n)] = corpus.Random(uint64(n), n)
		in[fmt.Sprintf("random+repeat %d", n)] = append(corpus.Random(uint64(n), 20), corpus.Random(uint64(n), n)...)
	}
	for _, n := range []int{MaxChunkSize - 17, MaxChunkSize - 9, MaxChunkSize - 8, MaxChunkSize - 1, MaxChunkSize} {
		for _, per := range []int{1, 3, 4, 8, 9, 256, 257, 1000, 32768, 65000} {
			in[fmt.Sprintf("period %d, %d", per, n)] = corpus.Repeat(per, n+per)[:n]
		}
		// Random data whose last bytes repeat earlier ones, at every
		// length of repeat up to 20.
		for k := 1; k <= 20; k++ {
			b := corpus.Random(uint64(n+k), n)
			copy(b[n-k:], b[n/2:n/2+k])
			in[fmt.Sprintf("random, tail of %d repeated, %d", k, n)] = b
		}
		b := corpus.Binary(uint64(n), n)
		in[fmt.Sprintf("binary %d", n)] = b
	}
	return in
}

// TestParseEdges checks every parse on edgeInputs, each parsed by a fresh
// encoder and by one whose window holds the bytes of a previous chunk that
// would extend the input's matches past its end.
func TestParseEdges(t *testing.T) {
	for _, name := range []string{"text", "hashed", "single"} {
		fresh, used := NewEncoder(), NewEncoder()
		parseFresh, parseUsed := parsers(fresh)[name], parsers(used)[name]
		for in, src := range edgeInputs() {
			t.Run(name+"/"+in, func(t *testing.T) {
				parseFresh(src)
				checkParse(t, fresh, src)
				// The stale bytes continue src's own pattern: a match that
				// counted them would be longer than src allows.
				prevs := [][]byte{make([]byte, MaxChunkSize)}
				if len(src) != 0 {
					prevs = append(prevs, bytes.Repeat(src, MaxChunkSize/len(src)+1)[:MaxChunkSize])
				}
				for _, prev := range prevs {
					parseUsed(prev)
					parseUsed(src)
					checkParse(t, used, src)
				}
			})
		}
	}
}

// TestParseFastReuse parses chunks of decreasing sizes with one encoder and
// checks each, and that its sequences equal a fresh encoder's.
func TestParseFastReuse(t *testing.T) {
	e, fresh := NewEncoder(), NewEncoder()
	big := corpus.Repeat(3000, MaxChunkSize)
	for n := MaxChunkSize; n > 0; n = n*7/8 - 1 {
		src := big[:n]
		e.parseFast(src)
		checkParse(t, e, src)
		fresh.parseFast(src)
		if !equalSeqs(e.seqs, fresh.seqs) {
			t.Fatalf("%d bytes: a used encoder parses differently from a fresh one", n)
		}
		fresh = NewEncoder()
	}
}

func equalSeqs(a, b []seq) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzParseFast checks the hashed parse and the single-table parse of
// arbitrary chunks, the window past each holding bytes that continue it (a
// repetition of it, or of its last byte), which a match must never count.
func FuzzParseFast(f *testing.F) {
	f.Add([]byte{}, false)
	f.Add(make([]byte, 30), true)
	f.Add(corpus.Binary(1, 1500), false)
	f.Add(append(corpus.Random(9, 300), corpus.Repeat(3, 33)...), true)
	f.Add(append(corpus.Random(10, 300), corpus.Repeat(12, 300)...), false)
	e := NewEncoder()
	f.Fuzz(func(t *testing.T, src []byte, repeat bool) {
		src = src[:min(len(src), MaxChunkSize)]
		if n := len(src); n != 0 {
			for i := n; i < len(e.win); i++ {
				if repeat {
					e.win[i] = src[i%n]
				} else {
					e.win[i] = src[n-1]
				}
			}
		}
		for _, parse := range []func([]byte){e.parseFast, e.parseSingle} {
			parse(src) // neither writes the window past src
			checkParse(t, e, src)
		}
	})
}
