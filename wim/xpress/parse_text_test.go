package xpress

import (
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/corpus"
)

// TestParseTextPastBucket: a repeat whose first 4 bytes' bucket no longer
// holds its source, filled since by four other words with the same first 4
// bytes, is still taken whole, from its first byte: the lazy look at the
// next position finds the source, and the match is extended back by one.
func TestParseTextPastBucket(t *testing.T) {
	word := func(i int) []byte { return append([]byte("abcd"), corpus.Random(uint64(100+i), 16)...) }
	var src []byte
	source := 0
	// Word 0, then five more that push it out of the bucket; the random
	// bytes between them are too few for the parse to start skipping.
	for i := range 6 {
		src = append(src, corpus.Random(uint64(200+i), 4)...)
		if i == 0 {
			source = len(src)
		}
		src = append(src, word(i)...)
	}
	src = append(src, corpus.Random(300, 4)...)
	repeat := len(src)
	src = append(append(src, word(0)...), corpus.Random(301, 4)...)

	e := NewEncoder()
	e.parseText(src)
	p := 0
	for _, q := range e.seqs {
		p += int(q.lits)
		if p == repeat && q.length != 0 {
			if q.length < 20 || int(q.offset) != repeat-source {
				t.Fatalf("match at the repeat: length %d, offset %d; want 20+, %d", q.length, q.offset, repeat-source)
			}
			return
		}
		p += int(q.length)
	}
	t.Fatalf("no match starts at the repeat (%d): sequences %v", repeat, e.seqs)
}
