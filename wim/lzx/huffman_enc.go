package lzx

import "slices"

// codeLengths computes length-limited Huffman code lengths. Its scratch
// space is reused between calls.
type codeLengths struct {
	syms    []symFreq
	nodes   []uint32 // parent links, then depths, of leaves and internal nodes
	weights []uint64 // weights of internal nodes
}

// symFreq is a used symbol and its frequency, packed so that sorting the
// values orders them by frequency, then by symbol.
type symFreq uint64

func packSymFreq(s int, f uint32) symFreq { return symFreq(f)<<16 | symFreq(s) }

func (x symFreq) freq() uint64 { return uint64(x >> 16) }

func (x symFreq) sym() int { return int(x & 0xffff) }

// build sets lens[s] to the code length of symbol s, so that the symbols
// with a nonzero freq get a complete prefix code with no codeword longer
// than limit bits; unused symbols get 0. A lone used symbol gets a 1-bit
// codeword and so does a partner, so the code stays complete. With no used
// symbol every length is 0 (an empty code, which LZX allows).
func (c *codeLengths) build(freq []uint32, lens []uint8, limit int) {
	clear(lens)
	c.syms = c.syms[:0]
	for s, f := range freq {
		if f != 0 {
			c.syms = append(c.syms, packSymFreq(s, f))
		}
	}
	switch len(c.syms) {
	case 0:
		return
	case 1:
		s := c.syms[0].sym()
		lens[s] = 1
		lens[(s+1)%len(lens)] = 1
		return
	}
	slices.Sort(c.syms)
	depths := c.treeDepths()
	var count [maxCodeLen + 1]int
	for _, d := range depths {
		count[min(int(d), limit)]++
	}
	fitKraft(count[:limit+1], limit)
	// The rarest symbols get the longest codes.
	i := 0
	for l := limit; l >= 1; l-- {
		for range count[l] {
			lens[c.syms[i].sym()] = uint8(l)
			i++
		}
	}
}

// treeDepths builds a Huffman tree over c.syms (ascending frequency, at
// least two) with the two-queue method and returns the leaf depths in the
// same order (non-increasing, since leaves are in ascending frequency).
func (c *codeLengths) treeDepths() []uint32 {
	n := len(c.syms)
	// Internal node i has weight w[i] and parent parent[i]; leaves are
	// taken from c.syms in order, internal nodes in order of creation.
	w := c.weights[:0]
	parent := slices.Grow(c.nodes[:0], 2*n)[:2*n] // leaves 0..n-1, nodes n..2n-2
	leaf, node := 0, 0
	take := func() (int, uint64) {
		if leaf < n && (node >= len(w) || c.syms[leaf].freq() <= w[node]) {
			leaf++
			return leaf - 1, c.syms[leaf-1].freq()
		}
		node++
		return n + node - 1, w[node-1]
	}
	for len(w) < n-1 {
		a, wa := take()
		b, wb := take()
		id := uint32(n + len(w))
		parent[a], parent[b] = id, id
		w = append(w, wa+wb)
	}
	// Depths: the root (last node) is 0; a node is one deeper than its
	// parent, and parents come after their children.
	root := 2*n - 2
	parent[root] = 0
	for i := root - 1; i >= n; i-- {
		parent[i] = parent[parent[i]] + 1
	}
	for i := range n {
		parent[i] = parent[parent[i]] + 1
	}
	c.nodes, c.weights = parent, w
	return parent[:n]
}

// fitKraft changes count[l] (the number of codewords of length l, those
// over limit already counted at limit) until the lengths form a complete
// code: while the code is oversubscribed, a codeword of the longest length
// goes and the longest shorter codeword splits into two one bit longer.
func fitKraft(count []int, limit int) {
	space := 0
	for l := 1; l <= limit; l++ {
		space += count[l] << (limit - l)
	}
	for space > 1<<limit {
		count[limit]--
		for l := limit - 1; l >= 1; l-- {
			if count[l] > 0 {
				count[l]--
				count[l+1] += 2
				break
			}
		}
		space--
	}
}

// canonical assigns canonical codewords: by length, then symbol, each code
// the previous plus one, shifted left as lengths grow.
func canonical(lens []uint8, codes []uint16) {
	var count, next [maxCodeLen + 2]uint16
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	code := uint16(0)
	for l := 1; l <= maxCodeLen; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	for s, l := range lens {
		if l != 0 {
			codes[s] = next[l]
			next[l]++
		}
	}
}
