package lzx

import "math"

// The near-optimal parser: the match finder runs once per chunk and records,
// for every position, the matches a hash chain offers (each longer than the
// previous, at the nearest offset for its length). Then, for every pass, a
// shortest-path search over the positions prices literals, repeated-offset
// matches and recorded matches of every length with the current costs, and
// the cheapest path becomes the parse. Each position keeps the repeated
// offsets of its cheapest path, so repeated-offset matches are priced along
// it (an approximation: a dearer path with better offsets is not kept).

// longMatch is the length from which a match is taken as it is, without
// pricing shorter ones or the positions it covers: long matches are rarely
// worth splitting, and skipping keeps runs of repeated data linear.
const longMatch = 64

// match is a recorded match: length and offset.
type match struct {
	length, offset uint32
}

// node is the cheapest known way to reach a position: its price (1/16 bits
// from the chunk start) and the item that ends there, packed: the match's
// length above itemShift (0 for a literal), its formatted offset below.
// The repeated offsets after the item are worked out once the position's
// cheapest way is final (e.reps), which keeps relaxing a node to one
// 8-byte store.
type node struct {
	price uint32
	item  uint32
}

// itemShift places a match's length above its formatted offset in
// node.item: offsets of the largest window take 22 bits.
const itemShift = 22

func (n node) length() uint32 { return n.item >> itemShift }
func (n node) f() uint32      { return n.item & (1<<itemShift - 1) }

// findMatches fills e.matches and e.matchAt (matchAt[p]..matchAt[p+1] are
// the matches at p) for the n window bytes.
func (e *Encoder) findMatches(n int) {
	clear(e.head)
	clear(e.head3)
	w, head, prev, head3 := e.win, e.head, e.prev, e.head3
	ms := e.matches[:0]
	at := e.matchAt[:n+1]
	for p := 0; p < n; p++ {
		at[p] = uint32(len(ms))
		if p+minLZLen > n {
			continue
		}
		// Bytes past the chunk's end read as zeros: a match found
		// through them is cut to maxLen.
		v := load32(w, p)
		h, h3 := hash4(v), hash3(v&0xFFFFFF)
		cp := int(head[h])
		prev[p] = uint32(cp)
		head[h] = uint32(p + 1)
		c3 := int(head3[h3])
		head3[h3] = uint32(p + 1)
		maxLen := min(maxMatch, n-p)
		best := minLZLen - 1
		if c3 != 0 && load32(w, c3-1)&0xFFFFFF == v&0xFFFFFF {
			// The latest position sharing 3 bytes: the nearest 3-byte
			// match, which the 4-byte chains may not hold.
			if l := matchLen(w, c3-1, p, maxLen); l >= minLZLen {
				best = l
				ms = append(ms, match{uint32(l), uint32(p - c3 + 1)})
			}
		}
		for depth := chainDepth; cp != 0 && depth > 0 && best < maxLen && best < longMatch; depth-- {
			q := cp - 1
			cp = int(prev[q])
			if w[q+best] != w[p+best] || load32(w, q) != v {
				continue
			}
			if l := matchLen(w, q, p, maxLen); l > best {
				best = l
				ms = append(ms, match{uint32(l), uint32(p - q)})
			}
		}
		if best >= longMatch {
			// Positions inside a long match are chained but not searched.
			for q := p + 1; q < p+best; q++ {
				at[q] = uint32(len(ms))
				if q+minLZLen <= n {
					v := load32(w, q)
					h := hash4(v)
					prev[q] = head[h]
					head[h] = uint32(q + 1)
					head3[hash3(v&0xFFFFFF)] = uint32(q + 1)
				}
			}
			p += best - 1
		}
	}
	at[n] = uint32(len(ms))
	e.matches = ms
}

// optimalParse fills e.items with the cheapest parse of the n window bytes
// under costs c, using the matches findMatches recorded.
func (e *Encoder) optimalParse(n int, c *costs) {
	nodes, reps := e.nodes[:n+1], e.reps[:n+1]
	for i := range nodes {
		nodes[i].price = math.MaxUint32
	}
	nodes[0] = node{}
	reps[0] = [numRepeats]uint32{1, 1, 1}
	w := e.win
	for p := 0; p < n; {
		cur := nodes[p]
		if l := int(cur.length()); p > 0 {
			if l == 0 {
				reps[p] = reps[p-1]
			} else {
				reps[p] = updateReps(reps[p-l], cur.f())
			}
		}
		relax(&nodes[p+1], cur.price+c.lit[w[p]], 0, 0)
		maxLen := min(maxMatch, n-p)
		if l, f := e.priceMatches(nodes, p, maxLen, &reps[p], c); l >= longMatch {
			// Take a long match whole and skip the positions it covers.
			relax(&nodes[p+l], cur.price+uint32(c.matchCost(l, f)), l, f)
			p += l
			continue
		}
		p++
	}
	e.backtrack(n)
}

// priceMatches relaxes the positions reachable from p by a match: through
// the repeated offsets, then the recorded matches (each length from the
// previous match's plus one up to its own). It returns the longest match
// seen and its formatted offset.
func (e *Encoder) priceMatches(nodes []node, p, maxLen int, reps *[numRepeats]uint32, c *costs) (int, uint32) {
	price, curReps := nodes[p].price, *reps
	longest, lf := 0, uint32(0)
	w := e.win
	for i, r := range curReps {
		// Most positions match no repeated offset: two bytes tell.
		if int(r) > p || w[p-int(r)] != w[p] || w[p-int(r)+1] != w[p+1] {
			continue
		}
		l := matchLen(w, p-int(r), p, maxLen)
		if l > longest {
			longest, lf = l, uint32(i)
		}
		if l >= longMatch {
			return longest, lf
		}
		relaxLengths(nodes[p:], price, minRepLen, l, uint32(i), c)
	}
	// An explicit offset costs more than a repeated one of the same length:
	// only longer matches are priced.
	from := max(minLZLen, longest+1)
	for _, m := range e.matches[e.matchAt[p]:e.matchAt[p+1]] {
		l := int(m.length)
		f := m.offset + 2
		for i, r := range curReps {
			if r == m.offset {
				f = uint32(i)
			}
		}
		if l > longest {
			longest, lf = l, f
		}
		if l >= longMatch {
			return longest, lf
		}
		relaxLengths(nodes[p:], price, from, l, f, c)
		from = max(from, l+1)
	}
	return longest, lf
}

// relaxLengths relaxes nodes[k] for matches of lengths from..to (to <
// longMatch) with formatted offset f from a position of the given price
// (nodes[0]).
func relaxLengths(nodes []node, price uint32, from, to int, f uint32, c *costs) {
	if from > to {
		return
	}
	slot := slotOf(f)
	hdr := (*[numLenHeaders]uint32)(c.main[numChars+slot*numLenHeaders:])
	base := price + 16*uint32(footerBits[slot])
	ns := nodes[from : to+1] // ns[i] is the node a match of from+i bytes reaches
	i := 0
	for ; i < len(ns) && from+i < minMatch+numLenHeaders-1; i++ {
		relax(&ns[i], base+hdr[(from+i-minMatch)&(numLenHeaders-1)], from+i, f)
	}
	base += hdr[numLenHeaders-1]
	lens := &c.len
	for ; i < len(ns); i++ {
		k := from + i
		relax(&ns[i], base+lens[uint8(k-minMatch-(numLenHeaders-1))], k, f)
	}
}

// relax makes nd the end of the given item when that is cheaper.
func relax(nd *node, price uint32, length int, f uint32) {
	if price < nd.price {
		*nd = node{price: price, item: uint32(length)<<itemShift | f}
	}
}

// backtrack turns the cheapest path to n into e.items.
func (e *Encoder) backtrack(n int) {
	items := e.items[:0]
	lits := uint32(0)
	for p := n; p > 0; {
		nd := e.nodes[p]
		if nd.length() == 0 {
			lits++
			p--
			continue
		}
		// Items are collected backwards: lits counts the literals after
		// this match until it is known how many come before it.
		items = append(items, item{lits: lits, length: nd.length(), f: nd.f()})
		lits = 0
		p -= int(nd.length())
	}
	// Reverse, then move each literal count to the match it precedes.
	for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
		items[i], items[j] = items[j], items[i]
	}
	// Now items[k].lits holds the literals after match k; shift them.
	tail := uint32(0)
	if len(items) > 0 {
		tail = items[len(items)-1].lits
		for k := len(items) - 1; k > 0; k-- {
			items[k].lits = items[k-1].lits
		}
		items[0].lits = lits
	} else {
		tail = lits
	}
	if tail > 0 {
		items = append(items, item{lits: tail})
	}
	e.items = items
}
