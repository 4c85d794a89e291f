package lzx

import (
	"encoding/binary"
	"math/bits"
)

// Match finder parameters. LZX matches are 2 to 257 bytes; the parser
// tries the three repeated offsets at every position, where 2 bytes already
// pay, the latest position with the same 3 bytes, and a chain of positions
// sharing a hash of 4 bytes.
const (
	hashBits   = 14 // of the 3-byte hash
	hash4Bits  = 15 // of the 4-byte hash, which heads the chains
	firstDepth = 16 // chain entries examined per position in a first parse
	textDepth  = 32 // the same in a text chunk's second parse
	// textFirstDepth is firstDepth for a text chunk, whose first parse
	// only yields the code lengths that price the second: a shallow one
	// prices it as well (within 0.02% of the output on source trees).
	textFirstDepth = 4
	// lazyBias is what a candidate must gain (in 1/16 bits) beyond the
	// pending one at the position before to displace it: the pending match
	// ends sooner, which leaves room for a match after it.
	lazyBias  = 16
	niceLen   = 257 // a match this long is taken without looking further
	longMatch = 64  // from this length only a match's tail is chained
	minRepLen = 2
	minLZLen  = 3
	winPad    = 8  // window slack for 8-byte loads past the chunk's end
	keepTail  = 16 // positions at the end of a long match that are chained
)

// item is one parse item: lits literals, then a match of length bytes
// (none when length is 0) with formatted offset f: 0-2 for the repeated
// offsets R0-R2, else the offset plus 2.
type item struct {
	lits   uint32
	length uint32
	f      uint32
}

// cand is a match candidate: its length, formatted offset and the bits it
// saves over coding its bytes as literals (in 1/16 bits; > 0 to be worth it).
type cand struct {
	length int
	f      uint32
	gain   int
}

// slotOf returns the position slot of formatted offset f.
func slotOf(f uint32) int {
	switch {
	case f < 4:
		return int(f)
	case f < 1<<19:
		b := bits.Len32(f) - 1 // f has b+1 bits
		return 2*b + int(f>>(b-1)&1)
	default:
		return 36 + int((f-(1<<18))>>17)
	}
}

// mainSymbol returns the main symbol of a match of length n with formatted
// offset f.
func mainSymbol(n int, f uint32) int {
	return numChars + slotOf(f)*numLenHeaders + min(n-minMatch, numLenHeaders-1)
}

// matchCost returns the cost of a match under c.
func (c *costs) matchCost(n int, f uint32) int {
	slot := slotOf(f)
	cost := int(c.main[numChars+slot*numLenHeaders+min(n-minMatch, numLenHeaders-1)]) + 16*int(footerBits[slot])
	if n-minMatch >= numLenHeaders-1 {
		cost += int(c.len[n-minMatch-(numLenHeaders-1)])
	}
	return cost
}

// load32 returns the 4 bytes at p of the window.
func load32(w []byte, p int) uint32 { return binary.LittleEndian.Uint32(w[p:]) }

func hash3(v uint32) uint32 { return ((v << 8) * 0x9E3779B1) >> (32 - hashBits) }

func hash4(v uint32) uint32 { return (v * 0x9E3779B1) >> (32 - hash4Bits) }

// matchLen returns the length of the common prefix of w[a:] and w[b:], at
// most max (b+max <= len(w)-winPad).
func matchLen(w []byte, a, b, max int) int {
	n := 0
	for n < max {
		x := binary.LittleEndian.Uint64(w[a+n:]) ^ binary.LittleEndian.Uint64(w[b+n:])
		if x != 0 {
			return min(n+bits.TrailingZeros64(x)>>3, max)
		}
		n += 8
	}
	return max
}

// parse fills e.items with a lazy parse of the n window bytes under costs c,
// examining up to depth hash chain entries per position. At each position
// it finds the best candidate; a candidate is taken unless the next
// position has a better one by more than lazyBias.
func (e *Encoder) parse(n, depth int, c *costs) {
	clear(e.head)
	clear(e.head3)
	items := e.items[:0]
	reps := [numRepeats]uint32{1, 1, 1}
	e.litSums(n, c)
	lit, ins, p := 0, 0, 0
	var pend cand // candidate at p-1, when length > 0
	for p < n {
		if ins < p {
			e.insertUpTo(ins, p, n) // the positions a match or a skip passed
		}
		cur := e.best(p, n, depth, &reps, c) // inserts p
		ins = p + 1
		if pend.length > 0 {
			if cur.gain > pend.gain+lazyBias {
				pend = cur // a literal at p-1, then maybe this one
				p++
				continue
			}
			p--
			cur = pend
			pend = cand{}
		} else if cur.length == 0 {
			// In a long stretch without matches (incompressible data),
			// look at fewer and fewer positions, and chain only those.
			if skip := (p - lit) >> 8; skip > 0 {
				p += 1 + skip
				ins = min(p, n)
			} else {
				p++
			}
			continue
		} else if cur.length < niceLen && p+1 < n {
			pend = cur
			p++
			continue
		}
		items = append(items, item{uint32(p - lit), uint32(cur.length), cur.f})
		reps = updateReps(reps, cur.f)
		p += cur.length
		lit = p
		if cur.length >= longMatch {
			ins = max(ins, p-keepTail) // only a long match's tail is chained
		}
	}
	// A candidate is left pending only while a position follows it, so
	// none is pending here.
	if lit < n {
		items = append(items, item{lits: uint32(n - lit)})
	}
	e.items = items
}

// updateReps returns the repeated offsets after a match with formatted
// offset f: a repeated offset moves to the front, a new one is pushed.
func updateReps(r [numRepeats]uint32, f uint32) [numRepeats]uint32 {
	switch f {
	case 0:
	case 1:
		r[0], r[1] = r[1], r[0]
	case 2:
		r[0], r[2] = r[2], r[0]
	default:
		r[2], r[1], r[0] = r[1], r[0], f-2
	}
	return r
}

// insertUpTo adds positions from to end-1 (those with 3 bytes left) to the
// hash chains and the 3-byte table.
func (e *Encoder) insertUpTo(from, end, n int) {
	w, head, prev, head3 := e.win, e.head, e.prev, e.head3
	for p := from; p < min(end, n-2); p++ {
		v := load32(w, p)
		h := hash4(v)
		prev[p] = head[h]
		head[h] = uint32(p + 1)
		head3[hash3(v)] = uint32(p + 1)
	}
}

// best returns the best candidate at p: the repeated offsets first, then
// the latest 3-byte match and up to depth entries of the 4-byte hash chain,
// each weighed by its estimated gain over literals. The hash tables must
// hold the positions before p, not p itself; best adds p (when 3 bytes are
// left), after reading them.
func (e *Encoder) best(p, n, depth int, reps *[numRepeats]uint32, c *costs) cand {
	w, sums := e.win, e.sums
	v := load32(w, p) // winPad makes this safe at the chunk's end
	h4, h3 := hash4(v), hash3(v)
	cp, c3 := int(e.head[h4]), int(e.head3[h3])
	if p < n-2 {
		e.prev[p] = uint32(cp)
		e.head[h4] = uint32(p + 1)
		e.head3[h3] = uint32(p + 1)
	}
	maxLen := min(maxMatch, n-p)
	var b cand
	try := func(length int, f uint32) {
		if g := int(sums[p+length]-sums[p]) - c.matchCost(length, f); g > b.gain {
			b = cand{length, f, g}
		}
	}
	if maxLen < minRepLen {
		return b
	}
	longest := 0
	for i, r := range reps {
		// Two bytes tell whether a repeated offset matches at all.
		if q := p - int(r); q >= 0 && uint16(load32(w, q)) == uint16(v) {
			if l := matchLen(w, q, p, maxLen); l >= minRepLen {
				try(l, uint32(i))
				longest = max(longest, l)
			}
		}
	}
	if longest >= niceLen || longest == maxLen || maxLen < minLZLen {
		return b
	}
	best := max(longest, minLZLen-1)
	if c3 != 0 && best < minLZLen && load32(w, c3-1)&0xFFFFFF == v&0xFFFFFF {
		// The nearest 3-byte match, which the 4-byte chain may not hold.
		l := matchLen(w, c3-1, p, maxLen)
		best = l
		off := uint32(p - c3 + 1)
		f := off + 2
		for i, r := range reps {
			if r == off {
				f = uint32(i)
			}
		}
		try(l, f)
	}
	for ; cp != 0 && depth > 0; depth-- {
		q := cp - 1
		cp = int(e.prev[q])
		if w[q+best] != w[p+best] || load32(w, q) != v {
			continue
		}
		l := matchLen(w, q, p, maxLen)
		if l <= best {
			continue
		}
		best = l
		off := uint32(p - q)
		f := off + 2
		for i, r := range reps {
			if r == off {
				f = uint32(i)
			}
		}
		try(l, f)
		if l >= niceLen || l == maxLen {
			break
		}
	}
	return b
}

// litSums sets e.sums[i] to the cost of coding the first i window bytes as
// literals, so a match's gain over literals takes two look-ups.
func (e *Encoder) litSums(n int, c *costs) {
	sums := e.sums[1 : n+1]
	e.sums[0] = 0
	s := uint32(0) // in a register: no store-to-load chain through sums
	for i, b := range e.win[:len(sums)] {
		s += c.lit[b]
		sums[i] = s
	}
}
