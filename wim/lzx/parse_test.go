package lzx

import (
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/corpus"
)

// TestBestInserts checks best's contract with the hash tables: it finds
// a match among the positions inserted before p, then adds p itself
// (linked to the chain it read) while 3 bytes are left, and not after.
func TestBestInserts(t *testing.T) {
	e, _ := NewEncoder(32768)
	src := []byte("abcdefgh abcdefgh abcdefgh")
	n := copy(e.win, src)
	clear(e.head)
	clear(e.head3)
	var c costs
	c.fromHist(e, n)
	e.litSums(n, &c)
	reps := [numRepeats]uint32{1, 1, 1}
	p := 9 // the second "abcdefgh"
	e.insertUpTo(0, p, n)
	h := hash4(load32(e.win, p))
	before := e.head[h]
	if b := e.best(p, n, firstDepth, &reps, &c); b.length != 17 || b.f != 9+2 {
		t.Errorf("best at %d = length %d, f %d; want 17, %d", p, b.length, b.f, 9+2)
	}
	if e.head[h] != uint32(p+1) || e.prev[p] != before || e.head3[hash3(load32(e.win, p))] != uint32(p+1) {
		t.Errorf("after best(%d): head %d, prev %d (head was %d), head3 %d; want %d inserted",
			p, e.head[h], e.prev[p], before, e.head3[hash3(load32(e.win, p))], p+1)
	}
	e.insertUpTo(p+1, n-2, n)
	last := n - 2 // 2 bytes left: not chained
	h = hash4(load32(e.win, last))
	before = e.head[h]
	e.best(last, n, firstDepth, &reps, &c)
	if e.head[h] != before {
		t.Errorf("best(%d) of %d bytes chained the position: head %d, was %d", last, n, e.head[h], before)
	}
}

// TestLitSums checks the literal cost prefix sums against a plain sum.
func TestLitSums(t *testing.T) {
	e, _ := NewEncoder(32768)
	n := copy(e.win, corpus.Text(2, 5000))
	var c costs
	c.fromHist(e, n)
	e.litSums(n, &c)
	s := uint32(0)
	for i := 0; i <= n; i++ {
		if e.sums[i] != s {
			t.Fatalf("sums[%d] = %d, want %d", i, e.sums[i], s)
		}
		if i < n {
			s += c.lit[e.win[i]]
		}
	}
}
