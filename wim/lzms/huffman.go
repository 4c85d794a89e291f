package lzms

import "slices"

// Making the reference Huffman code from symbol frequencies. Each adaptive
// code calls this at the start of a chunk and at every rebuild, so it avoids
// allocation and general-purpose sorting where it can.

// symBits is the width of the symbol field in a sort key (freq<<symBits|sym).
const symBits = 10

// codeBuilder holds the scratch space for making codes, shared by the five
// adaptive codes of a Decoder.
type codeBuilder struct {
	keys     [maxOffsetSyms + 1]uint32 // symbols sorted by frequency, then value
	buckets  [maxOffsetSyms]int
	nodeFreq [maxOffsetSyms]uint32 // internal nodes in creation order
	parent   [maxOffsetSyms]uint16
	depth    [maxOffsetSyms]uint16
	sorted   [maxOffsetSyms]uint16 // symbols by code length, then value
}

// codeLengths sets lens[s] to the codeword length of symbol s in the code
// for freqs: 2 to maxOffsetSyms frequencies, all at least 1, summing to
// less than 2^22. (LZMS frequencies sum to a few thousand at most: each
// decoded symbol adds 1, and every rebuild halves them.)
func (b *codeBuilder) codeLengths(freqs []uint32, lens []uint8) {
	keys := b.sortSymbols(freqs)
	var count [maxCodeLen + 1]int
	b.leafDepths(keys, &count)
	// The deepest leaves go to the rarest symbols.
	i := 0
	for l := maxCodeLen; l >= 1; l-- {
		for range count[l] {
			lens[keys[i]&(1<<symBits-1)] = uint8(l)
			i++
		}
	}
}

// sortSymbols returns sort keys freq<<symBits|sym for the symbols in
// increasing order: a counting sort on the frequency, with frequencies of
// len(freqs)-1 and more sharing the last bucket, which is sorted after.
func (b *codeBuilder) sortSymbols(freqs []uint32) []uint32 {
	n := len(freqs)
	top := uint32(n - 1)
	cnt := b.buckets[:n]
	clear(cnt)
	for _, f := range freqs {
		cnt[min(f, top)]++
	}
	sum := 0
	for i, c := range cnt {
		cnt[i] = sum
		sum += c
	}
	lastStart := cnt[top]
	keys := b.keys[:n]
	for s, f := range freqs {
		i := min(f, top)
		keys[cnt[i]] = f<<symBits | uint32(s)
		cnt[i]++
	}
	slices.Sort(keys[lastStart:])
	return keys
}

// leafDepths builds the Huffman tree of the sorted keys (at least 2) and
// counts its leaves at each depth. The tree is built with two queues, the
// leaves and the internal nodes in creation order, each step joining the two
// nodes of least frequency and taking a leaf before an internal node of the
// same frequency.
func (b *codeBuilder) leafDepths(keys []uint32, count *[maxCodeLen + 1]int) {
	n := len(keys)
	b.buildTree(keys)
	// Each internal node at depth d-1 has two children at depth d, so
	// the leaves at depth d are twice the internal nodes at d-1 less
	// those at d.
	var inner [maxCodeLen + 1]int
	parent, depth := b.parent[:n-1], b.depth[:n-1]
	depth[n-2] = 0
	inner[0] = 1
	deepest := uint16(0)
	for k := n - 3; k >= 0; k-- {
		d := depth[parent[k]] + 1
		depth[k] = d
		deepest = max(deepest, d)
		inner[min(d, maxCodeLen)]++
	}
	if deepest >= maxCodeLen {
		b.limitedDepths(n, count)
		return
	}
	for d := 1; d <= maxCodeLen; d++ {
		count[d] = 2*inner[d-1] - inner[d]
	}
}

// buildTree makes the internal nodes of the tree of the sorted keys: their
// frequencies in nodeFreq and their parents in parent, in creation order,
// the root last. The next unjoined leaf and internal node have their
// frequencies in lf and of; a leaf past the last one, and an internal node
// not made yet, have a frequency no node reaches.
func (b *codeBuilder) buildTree(keys []uint32) {
	n := len(keys)
	const never = 1<<(32-symBits) - 1
	leaves := b.keys[:n+1]
	leaves[n] = never << symBits
	freq, parent := b.nodeFreq[:n], b.parent[:n]
	leaf, orphan := 0, 0
	lf, of := leaves[0]>>symBits, uint32(never)
	for k := range n - 1 {
		freq[k] = never
		var sum uint32
		for range 2 {
			if lf <= of {
				sum += lf
				leaf++
				lf = leaves[leaf] >> symBits
			} else {
				sum += of
				parent[orphan] = uint16(k)
				orphan++
				of = freq[orphan]
			}
		}
		freq[k] = sum
		if orphan == k {
			of = sum
		}
	}
}

// limitedDepths counts the leaves at each length when the tree is deeper
// than maxCodeLen, the way the reference does: walking the internal nodes
// from the root down, starting with the root's two children as leaves, each
// internal node replaces a leaf at its depth by two one level down; one that
// would make leaves longer than maxCodeLen replaces instead a leaf at the
// greatest length below maxCodeLen that has one. The code stays complete.
func (b *codeBuilder) limitedDepths(n int, count *[maxCodeLen + 1]int) {
	*count = [maxCodeLen + 1]int{}
	count[1] = 2
	for k := n - 3; k >= 0; k-- {
		l := int(b.depth[k])
		if l >= maxCodeLen {
			// Fewer than 2^14 leaves: some length below 15 has one.
			l = maxCodeLen - 1
			for count[l] == 0 {
				l--
			}
		}
		count[l]--
		count[l+1] += 2
	}
}
