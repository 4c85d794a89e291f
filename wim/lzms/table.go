package lzms

// huffTable decodes one canonical Huffman code: a primary table indexed by
// the next bits bits of the stream and, for longer codewords, subtables of
// 1<<subBits entries indexed by the bits after those.
//
// A symbol entry holds the symbol in bits 16-25 and its whole codeword
// length in bits 0-3; a primary entry leading to a subtable has linkFlag set
// and the subtable's start in its low bits.
type huffTable struct {
	bits    uint
	subBits uint
	entries []uint32
}

const (
	linkFlag = 1 << 31
	lenMask  = 15
)

// newHuffTable returns a table for codes of up to numSyms symbols indexing
// bits bits at first. In a complete code, each primary index that leads to
// a subtable is the prefix of at least two codewords, so there are at most
// numSyms/2 subtables, of at most 1<<(maxCodeLen-bits) entries.
func newHuffTable(numSyms int, bits uint) huffTable {
	size := 1<<bits + numSyms/2<<(maxCodeLen-bits)
	return huffTable{bits: bits, entries: make([]uint32, size)}
}

// lookup returns the entry of the codeword at the top of buf, which holds at
// least maxCodeLen bits.
func (t *huffTable) lookup(buf uint64) uint32 {
	e := t.entries[buf>>(64-t.bits)]
	if e&linkFlag != 0 {
		e = t.entries[(e&^linkFlag)+uint32(buf<<t.bits>>(64-t.subBits))]
	}
	return e
}

// decode returns the symbol at the top of buf, which holds at least
// maxCodeLen bits of nbits, and the bit buffer after its codeword.
func (t *huffTable) decode(buf uint64, nbits uint) (uint32, uint64, uint) {
	e := t.lookup(buf)
	return e >> 16, buf << (e & lenMask), nbits - uint(e&lenMask)
}

// fillAll makes every bit sequence decode as entry e.
func (t *huffTable) fillAll(e uint32) {
	t.subBits = 0
	fill(t.entries[:1<<t.bits], e)
}

// build fills the table for the complete code with lengths lens (all 1 to
// maxCodeLen), using b's scratch space.
func (t *huffTable) build(lens []uint8, b *codeBuilder) {
	var count [maxCodeLen + 1]int
	for _, l := range lens {
		count[l]++
	}
	var start [maxCodeLen + 1]int
	maxLen := uint(0)
	for l := 1; l <= maxCodeLen; l++ {
		if count[l] != 0 {
			maxLen = uint(l)
		}
		if l < maxCodeLen {
			start[l+1] = start[l] + count[l]
		}
	}
	sorted := b.sorted[:len(lens)]
	for s, l := range lens {
		sorted[start[l]] = uint16(s)
		start[l]++
	}

	// Codewords no longer than the primary index fill runs of it in
	// canonical order.
	e := t.entries
	pb := t.bits
	i, pos := 0, 0
	for l := uint(1); l <= min(maxLen, pb); l++ {
		n := 1 << (pb - l)
		for range count[l] {
			fill(e[pos:pos+n], uint32(sorted[i])<<16|uint32(l))
			pos += n
			i++
		}
	}
	t.subBits = 0
	if maxLen > pb {
		t.buildSubtables(sorted[i:], &count, pos, maxLen)
	}
}

// buildSubtables fills the subtables for the codewords longer than the
// primary index, syms in canonical order, the first at primary index pos.
// Every subtable indexes maxLen-bits further bits.
func (t *huffTable) buildSubtables(syms []uint16, count *[maxCodeLen + 1]int, pos int, maxLen uint) {
	e := t.entries
	pb := t.bits
	sub := maxLen - pb
	t.subBits = sub
	next := 1 << pb // where the next subtable goes
	prefix := -1
	code := pos << sub // the next codeword, padded to maxLen bits
	i := 0
	for l := pb + 1; l <= maxLen; l++ {
		n := 1 << (maxLen - l)
		for range count[l] {
			if p := code >> sub; p != prefix {
				prefix = p
				e[p] = linkFlag | uint32(next)
				next += 1 << sub
			}
			at := int(e[prefix]&^linkFlag) + code&(1<<sub-1)
			fill(e[at:at+n], uint32(syms[i])<<16|uint32(l))
			code += n
			i++
		}
	}
}

func fill(t []uint32, e uint32) {
	for i := range t {
		t[i] = e
	}
}
