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
	keys     [maxOffsetSyms]uint32 // symbols sorted by frequency, then value
	buckets  [maxOffsetSyms]int
	nodeFreq [maxOffsetSyms]uint32 // internal nodes in creation order
	parent   [maxOffsetSyms]uint16
	depth    [maxOffsetSyms]uint16
	sorted   [maxOffsetSyms]uint16 // symbols by code length, then value
}

// codeLengths sets lens[s] to the codeword length of symbol s in the code
// for freqs (2 to maxOffsetSyms frequencies, all at least 1).
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

// sortSymbols returns sort keys freq<<symBits|sym for the symbols, in
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
// same frequency. Depths past maxCodeLen are cut back: the internal node that
// would make them turns a leaf at the deepest length below maxCodeLen that
// has one into two one level down instead, keeping the code complete.
func (b *codeBuilder) leafDepths(keys []uint32, count *[maxCodeLen + 1]int) {
	n := len(keys)
	freq := b.nodeFreq[:n-1]
	parent := b.parent[:n-1]
	leaf, orphan := 0, 0 // next unjoined leaf and internal node
	for k := range freq {
		var sum uint32
		for range 2 {
			if leaf < n && (orphan == k || keys[leaf]>>symBits <= freq[orphan]) {
				sum += keys[leaf] >> symBits
				leaf++
			} else {
				sum += freq[orphan]
				parent[orphan] = uint16(k)
				orphan++
			}
		}
		freq[k] = sum
	}

	// Walk the internal nodes from the root down: start with the root's two
	// children as leaves, and let each further internal node replace a leaf
	// at its depth by two below it.
	depth := b.depth[:n-1]
	depth[n-2] = 0
	count[1] = 2
	for k := n - 3; k >= 0; k-- {
		d := depth[parent[k]] + 1
		depth[k] = d
		l := int(d)
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
