package xpress

import "slices"

// codeBuilder computes length-limited Huffman code lengths. Its scratch space
// is reused, so building a code allocates nothing.
type codeBuilder struct {
	keys  [numSymbols]uint64 // freq<<16 | symbol, for used symbols
	depth [numSymbols]uint32 // in-place tree construction workspace
	start [numSymbols]uint16 // counting sort bucket starts
	// count is the number of codes of each length in the last code built.
	count [maxCodeLen + 1]uint16
}

// build sets lens to the lengths of a complete prefix code for the symbols
// with nonzero freq, no code longer than maxCodeLen bits. Unused symbols get
// length 0. If only one symbol is used, a second one gets a 1-bit codeword
// too, because decoders accept only complete codes. At least one frequency
// must be nonzero. It returns freq<<16 | symbol for the used symbols, valid
// until the next build, so that callers need not scan all numSymbols.
func (b *codeBuilder) build(freq *[numSymbols]uint32, lens *[numSymbols]uint8) []uint64 {
	*lens = [numSymbols]uint8{}
	keys := b.sortSymbols(freq)
	switch len(keys) {
	case 0:
		panic("xpress: building a code for no symbols")
	case 1:
		s := int(keys[0] & 0xFFFF)
		partner := 0
		if s == 0 {
			partner = 1
		}
		lens[s], lens[partner] = 1, 1
		b.count = [maxCodeLen + 1]uint16{1: 2}
		return keys
	}
	n := len(keys)
	a := b.depth[:n]
	for i, k := range keys {
		a[i] = uint32(k >> 16)
	}
	minimumRedundancy(a)

	// a is now the code lengths, longest first. Count codes per length,
	// folding anything too long into maxCodeLen, then restore Kraft = 1.
	var count [maxCodeLen + 1]int
	for _, l := range a {
		count[min(l, maxCodeLen)]++
	}
	limitLengths(&count)
	i := 0
	for l := maxCodeLen; l >= 1; l-- {
		b.count[l] = uint16(count[l])
		for c := count[l]; c > 0; c-- {
			lens[keys[i]&0xFFFF] = uint8(l)
			i++
		}
	}
	return keys
}

// codes assigns to codes the canonical codewords of lens, the lengths of the
// last code built (assignCodes), without counting them again.
// Unused symbols get arbitrary codewords.
func (b *codeBuilder) codes(lens *[numSymbols]uint8, codes *[numSymbols]uint16) {
	assignCodes(lens, &b.count, codes)
}

// sortSymbols returns freq<<16 | symbol for the used symbols, ascending. A
// counting sort on the frequency puts them in order, except that all
// frequencies of numSymbols-1 or more share the last bucket, which is then
// sorted by comparison (it holds few symbols).
func (b *codeBuilder) sortSymbols(freq *[numSymbols]uint32) []uint64 {
	const top = numSymbols - 1
	// Unused symbols, which come in runs, are counted in turn into 4
	// entries past the buckets: incrementing one entry over and over waits
	// each time for the store before it.
	var count [numSymbols + 4]uint16
	for s, f := range freq {
		i := int(min(f, top))
		if f == 0 {
			i = numSymbols + s&3
		}
		count[i]++
	}
	used := numSymbols - int(count[numSymbols]+count[numSymbols+1]+count[numSymbols+2]+count[numSymbols+3])
	start := &b.start
	total := uint16(0)
	for f := 1; f < numSymbols; f++ {
		start[f] = total
		total += count[f]
	}
	keys := b.keys[:used]
	for s, f := range freq {
		if f != 0 {
			i := &start[min(f, top)]
			keys[*i&(numSymbols-1)] = uint64(f)<<16 | uint64(s)
			*i++
		}
	}
	slices.Sort(keys[used-int(count[top]):])
	return keys
}

// minimumRedundancy replaces the ascending weights in a (len(a) >= 2) by the
// lengths of an optimal prefix code for them, using Moffat and Katajainen's
// in-place algorithm ("In-Place Calculation of Minimum-Redundancy Codes",
// 1995). Lengths come out non-increasing.
func minimumRedundancy(a []uint32) {
	n := len(a)
	// Phase 1: build the tree; internal nodes overwrite consumed leaves and
	// hold their weight, then the index of their parent.
	a[0] += a[1]
	root, leaf := 0, 2
	for next := 1; next < n-1; next++ {
		if leaf >= n || a[root] < a[leaf] {
			a[next] = a[root]
			a[root] = uint32(next)
			root++
		} else {
			a[next] = a[leaf]
			leaf++
		}
		if leaf >= n || (root < next && a[root] < a[leaf]) {
			a[next] += a[root]
			a[root] = uint32(next)
			root++
		} else {
			a[next] += a[leaf]
			leaf++
		}
	}
	// Phase 2: parent indices to internal node depths.
	a[n-2] = 0
	for next := n - 3; next >= 0; next-- {
		a[next] = a[a[next]] + 1
	}
	// Phase 3: internal node depths to leaf depths.
	avail, used, depth := 1, 0, uint32(0)
	root, next := n-2, n-1
	for avail > 0 {
		for root >= 0 && a[root] == depth {
			used++
			root--
		}
		for avail > used {
			a[next] = depth
			next--
			avail--
		}
		avail, used = 2*used, 0
		depth++
	}
}

// limitLengths adjusts count (codes per length, lengths above maxCodeLen
// already folded into maxCodeLen) until the Kraft sum is exactly 1, keeping
// the number of codes. Each step removes one longest code and splits the
// longest shorter code into two one bit longer.
func limitLengths(count *[maxCodeLen + 1]int) {
	total := 0
	for l := 1; l <= maxCodeLen; l++ {
		total += count[l] << (maxCodeLen - l)
	}
	for total > 1<<maxCodeLen {
		count[maxCodeLen]--
		for l := maxCodeLen - 1; l >= 1; l-- {
			if count[l] != 0 {
				count[l]--
				count[l+1] += 2
				break
			}
		}
		total--
	}
}

// assignCodes assigns canonical codewords to lens: codes in order of
// (length, symbol), each the previous plus one, shifted left when the
// length grows. count is the number of codes of each length in lens
// (count[0] zero); lens must describe a code that satisfies Kraft's
// inequality. Unused symbols get arbitrary codewords:
// writing one for every symbol spares a branch per symbol, which mispredicts
// where used and unused symbols alternate.
func assignCodes(lens *[numSymbols]uint8, count *[maxCodeLen + 1]uint16, codes *[numSymbols]uint16) {
	var next [maxCodeLen + 1]uint16
	code := uint16(0)
	for l := 1; l <= maxCodeLen; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	for s, l := range lens {
		c := &next[l&maxCodeLen]
		codes[s] = *c
		*c++
	}
}
