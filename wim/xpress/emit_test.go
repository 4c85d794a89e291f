package xpress

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// bitWriterStream writes the stream for e.seqs, as a parse and finish left
// them, with bitWriter one item at a time: the plain form of the scheme
// that emit unrolls.
func bitWriterStream(e *Encoder) []byte {
	out := make([]byte, len(e.stream))
	var w bitWriter
	w.init(out)
	put := func(sym int) {
		w.put(uint32(e.codes[sym]), uint(e.lens[sym]))
		w.flush()
	}
	p := 0
	for _, q := range e.seqs {
		for range q.lits {
			put(int(e.win[uint16(p)]))
			p++
		}
		if q.length == 0 {
			continue
		}
		p += int(q.length)
		sym, offBits := matchSymbol(q.length, q.offset)
		put(sym)
		if v := q.length - 18; q.length >= 18 && v < 255 {
			w.raw(byte(v))
		} else if q.length >= 18 {
			v = q.length - minMatch
			w.raw(255)
			w.raw(byte(v))
			w.raw(byte(v >> 8))
		}
		w.put(q.offset&(1<<offBits-1), offBits)
		w.flush()
	}
	w.put(uint32(e.codes[endSymbol]), uint(e.lens[endSymbol]))
	return out[:w.finish()]
}

// TestEmitMatchesBitWriter checks that emit's stream is byte for byte the
// one bitWriter gives, on inputs dense in raw match lengths (which move
// the reserved slots away from the append position, up to two matches
// before a flush) and on the pinned corpus.
func TestEmitMatchesBitWriter(t *testing.T) {
	inputs := pinnedCorpus()
	r := rand.New(rand.NewPCG(5, 5))
	for i := range 200 {
		inputs = append(inputs, repeatsInput(r, i, 40000, 4, false))
	}
	e := NewEncoder()
	for i, src := range inputs {
		got := e.encode(nil, src, true)[tableBytes:]
		if want := bitWriterStream(e); !bytes.Equal(got, want) {
			t.Fatalf("input %d (%d bytes): emit's stream differs from bitWriter's", i, len(src))
		}
	}
}
