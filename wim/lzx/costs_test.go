package lzx

import (
	"bytes"
	"slices"
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/corpus"
)

// TestFromHist checks the first parse's costs: a frequent byte costs less
// than a rare one, at least one bit, an absent byte more than the longest
// code, and match headers of slots past the learned table take its last
// row.
func TestFromHist(t *testing.T) {
	e, _ := NewEncoder(MaxChunkSize)
	src := slices.Concat(bytes.Repeat([]byte("a"), 1000), bytes.Repeat([]byte("b"), 200), []byte("c"))
	n := copy(e.win, src)
	var c costs
	c.fromHist(e, n)
	if c.lit['a'] >= c.lit['b'] || c.lit['b'] >= c.lit['c'] {
		t.Errorf("costs a %d, b %d, c %d: want rising with rarity", c.lit['a'], c.lit['b'], c.lit['c'])
	}
	if c.lit['a'] < 16 {
		t.Errorf("cost of a = %d, under one bit", c.lit['a'])
	}
	if c.lit['z'] != (maxCodeLen+1)*16 {
		t.Errorf("cost of an absent byte = %d, want %d", c.lit['z'], (maxCodeLen+1)*16)
	}
	last := learnedMain[len(learnedMain)-1]
	lastSlot := c.main[e.numMain-numLenHeaders : e.numMain]
	for i, v := range lastSlot {
		if v != uint32(last[i]) {
			t.Fatalf("slot %d costs %v, want the table's last row %v", numSlots[maxOrder]-1, lastSlot, last)
		}
	}
}

// TestTextSecondParse checks that a text chunk is parsed again with the
// first parse's code lengths, and that this pays: Encode's output is
// smaller than the first parse's.
func TestTextSecondParse(t *testing.T) {
	src := corpus.Text(1, 32768)
	if !textLike(src) {
		t.Fatal("corpus text is not textLike")
	}
	e, _ := NewEncoder(32768)
	got := e.Encode(nil, src)
	first := firstParseOnly(e, src)
	if len(got) >= len(first) {
		t.Errorf("Encode gave %d bytes, the first parse alone %d", len(got), len(first))
	}
	d, _ := NewDecoder(32768)
	if out, err := d.Decode(nil, got, len(src)); err != nil || !slices.Equal(out, src) {
		t.Errorf("Decode: %v, equal %t", err, slices.Equal(out, src))
	}
}

// TestTextFirstDepth checks that a text chunk's first parse, which only
// prices the second, examines textFirstDepth chain entries, not firstDepth.
func TestTextFirstDepth(t *testing.T) {
	src := corpus.Text(1, 32768)
	e, _ := NewEncoder(32768)
	got := e.Encode(nil, src)
	if want := parsedTwice(e, src, textFirstDepth); !bytes.Equal(got, want) {
		t.Errorf("Encode gave %d bytes, the first parse %d deep then the second %d", len(got), textFirstDepth, len(want))
	}
}

// parsedTwice returns the chunk compressed from a first parse depth
// entries deep and a second parse priced by its code lengths.
func parsedTwice(e *Encoder, src []byte, depth int) []byte {
	n := firstParse(e, src, depth)
	e.cost.fromLens(e)
	e.parse(n, textDepth, &e.cost)
	e.tally()
	e.buildCodes()
	return writeChunk(e, n)
}

// firstParseOnly returns the chunk compressed from Encode's first parse.
func firstParseOnly(e *Encoder, src []byte) []byte {
	depth := firstDepth
	if textLike(src) {
		depth = textFirstDepth
	}
	return writeChunk(e, firstParse(e, src, depth))
}

// firstParse makes Encode's first parse of src, depth entries deep, and its
// codes, and returns the chunk's size.
func firstParse(e *Encoder, src []byte, depth int) int {
	n := copy(e.win, src)
	clear(e.win[n : n+winPad])
	doE8(e.win[:n])
	e.cost.fromHist(e, n)
	e.parse(n, depth, &e.cost)
	e.tally()
	e.buildCodes()
	return n
}

// writeChunk returns the block of e.items for a chunk of n bytes.
func writeChunk(e *Encoder, n int) []byte {
	e.bw = bitWriter{}
	e.writeBlock(n)
	out := e.bw.out
	e.bw.out = nil
	return out
}

// TestByteHist checks byteHist against a plain count, for lengths that
// leave each remainder of its four-byte steps.
func TestByteHist(t *testing.T) {
	src := corpus.Text(3, 1003)
	for _, n := range []int{0, 1, 2, 3, 4, 1000, 1001, 1002, 1003} {
		var want [numChars]uint32
		for _, b := range src[:n] {
			want[b]++
		}
		if got := byteHist(src[:n]); got != want {
			t.Errorf("byteHist of %d bytes differs from a plain count", n)
		}
	}
}
