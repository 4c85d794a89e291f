package lzx

// huffTable decodes one canonical Huffman code: a primary table indexed by
// the next primaryBits bits of the stream and, for longer codes, subtables
// indexed by the bits after those.
//
// An entry holds the symbol in bits 8-23 and the code length in bits 0-4; a
// primary entry pointing to a subtable has subFlag set and the subtable's
// start in its low bits. Entries no codeword reaches (an incomplete code)
// are zero, which has length 0 and makes the decoder fail if it meets one.
type huffTable struct {
	primaryBits uint
	subBits     uint
	entries     []uint32
	sorted      []uint16
}

const subFlag = 1 << 31

// newHuffTable returns a table for codes of up to numSyms symbols whose
// lengths never exceed maxLen, indexing primaryBits bits at first.
func newHuffTable(numSyms int, primaryBits, maxLen uint) *huffTable {
	size := 1 << primaryBits
	if maxLen > primaryBits {
		size += numSyms << (maxLen - primaryBits)
	}
	return &huffTable{
		primaryBits: primaryBits,
		entries:     make([]uint32, size),
		sorted:      make([]uint16, numSyms),
	}
}

// build fills the table from code lengths (0 = unused). It fails on lengths
// that oversubscribe the code space; an incomplete code is accepted (a code
// with no symbols, or one symbol, is what encoders write for unused or
// single-use trees) and the unreachable entries make decoding fail.
func (t *huffTable) build(lens []uint8) error {
	var count [maxCodeLen + 1]int
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	left, maxLen := 1, uint(0)
	for l := 1; l <= maxCodeLen; l++ {
		left = left<<1 - count[l]
		if left < 0 {
			return corrupt("Huffman code lengths oversubscribed")
		}
		if count[l] != 0 {
			maxLen = uint(l)
		}
	}

	var offs [maxCodeLen + 2]int
	for l := 1; l <= maxCodeLen; l++ {
		offs[l+1] = offs[l] + count[l]
	}
	for s, l := range lens {
		if l != 0 {
			t.sorted[offs[l]] = uint16(s)
			offs[l]++
		}
	}

	e := t.entries
	pb := t.primaryBits
	i, lo := 0, 0
	for l := uint(1); l <= min(maxLen, pb); l++ {
		n := 1 << (pb - l)
		for range count[l] {
			fill(e[lo:lo+n], uint32(t.sorted[i])<<8|uint32(l))
			lo += n
			i++
		}
	}
	clear(e[lo : 1<<pb])
	t.subBits = 0
	if maxLen <= pb {
		return nil
	}

	// Longer codes share a subtable per primary prefix; every subtable
	// indexes maxLen-primaryBits further bits.
	sub := maxLen - pb
	t.subBits = sub
	next := 1 << pb
	prefix := -1
	code := lo << sub
	for l := pb + 1; l <= maxLen; l++ {
		n := 1 << (maxLen - l)
		for range count[l] {
			if p := code >> sub; p != prefix {
				prefix = p
				e[p] = subFlag | uint32(next)
				clear(e[next : next+1<<sub])
				next += 1 << sub
			}
			at := int(e[prefix]&^subFlag) + code&(1<<sub-1)
			fill(e[at:at+n], uint32(t.sorted[i])<<8|uint32(l))
			code += n
			i++
		}
	}
	return nil
}

func fill(t []uint32, e uint32) {
	for i := range t {
		t[i] = e
	}
}
