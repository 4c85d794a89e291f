package xpress

// hashFive hashes the low 5 bytes of v into longBits bits: hashLong's
// multiply on v shifted so that its top 3 bytes drop out.
func hashFive(v uint64) uint32 { return uint32(((v << 24) * 0xCF1BBCDCB7A56463) >> (64 - longBits)) }

// parseSingle fills e.seqs and the literal entries of e.freq as parse does:
// the parse of a fast encoder (NewFastEncoder). It is parseFast cut to one
// table, after zstd's "fast" strategy: each position looks up the last one
// whose first 5 bytes hashed alike (e.ht.long, hashed by hashFive) and
// takes a match of at least 4 bytes at once; a match under 16 bytes gives
// way to one at least 2 bytes longer starting one position later. A match
// found is extended backwards over the pending literals; of the positions
// it covers, its third and its second to last go into the table. Stretches
// without matches are skipped as parseFast skips them, and lookups stop
// where the next position's 8-byte load would pass the chunk's end.
// NewFastEncoder's comment has its speed and output against NewEncoder's.
func (e *Encoder) parseSingle(src []byte) {
	ns := 0
	w := &e.win
	copy(w[:], src)
	t := &e.ht.long
	*t = [1 << longBits]uint16{}
	fr := &e.freq
	*fr = [numSymbols]uint32{}

	n := len(src)
	last := n - 9 // the last position whose successor can load 8 bytes
	lit := 0      // start of the pending literal run
	p := 0
	for p <= last {
		v := w.load64(uint16(p))
		c := int(t[hashFive(v)])
		t[hashFive(v)] = uint16(p + 1)
		if c == 0 || w.load32(uint16(c-1)) != uint32(v) {
			if p >= lit+1<<fastSkipShift {
				p = e.skipLiterals(p, (p-lit)>>fastSkipShift, n)
				continue
			}
			fr[uint8(v)]++
			p++
			continue
		}
		cand := c - 1
		length := 4 + w.matchLen(cand+4, p+4, n-p-4)
		if length < 16 {
			q, vq := p+1, w.load64(uint16(p+1))
			c = int(t[hashFive(vq)])
			t[hashFive(vq)] = uint16(q + 1)
			if c != 0 && w.load32(uint16(c-1)) == uint32(vq) {
				if l := 4 + w.matchLen(c-1+4, q+4, n-q-4); l > length+1 {
					fr[uint8(v)]++
					p, cand, length = q, c-1, l
				}
			}
		}
		for p > lit && cand > 0 && w[uint16(p-1)] == w[uint16(cand-1)] {
			p--
			cand--
			length++
			fr[w[uint16(p)]]--
		}
		sq := &e.seqBuf[ns]
		sq.lits, sq.length, sq.offset = uint32(p-lit), uint32(length), uint32(p-cand)
		ns++
		start := p
		p += length
		lit = p
		if p <= last {
			t[hashFive(w.load64(uint16(start+2)))] = uint16(start + 3)
			t[hashFive(w.load64(uint16(p-2)))] = uint16(p - 1)
		}
	}
	e.endParse(e.seqBuf[:ns], p, lit, n)
}
