package xpress

import "encoding/binary"

// Table sizes of the hashed parse: one entry per position of a 32 KiB chunk
// for the long and short tables (the three table has 1<<hash3Bits).
const (
	longBits  = 15
	shortBits = 15
	// After 1<<fastSkipShift literals in a row, parseFast starts skipping
	// positions, one more for every further 1<<fastSkipShift literals.
	fastSkipShift = 6
	// nearOffset is the largest offset at which parseFast takes a match of
	// 3 bytes: at most 8 offset bits, so that the match costs less than its
	// literals.
	nearOffset = 256
)

// hashTables holds the single-entry tables of [Encoder.parseFast]: long
// maps a hash of the 8 bytes at a position to the last position added with
// that hash, short a hash of its first 4 bytes, and three of its first 3.
// Positions are stored plus one, so 0 means "none"; parseFast clears the
// tables for every chunk, so they never point outside it.
type hashTables struct {
	long  [1 << longBits]uint16
	short [1 << shortBits]uint16
	three [1 << hash3Bits]uint16
}

// load64 returns the 8 bytes at i, little-endian.
func (w *window) load64(i uint16) uint64 { return binary.LittleEndian.Uint64(w[i:]) }

// hashLong hashes the 8 bytes of v, hashShort its low 4. hashShort is
// ((v<<32) * 0x9E3779B185EBCA87) >> (64-shortBits) computed in 32 bits (the
// product's low 32 bits are those of the low halves'): one multiply by an
// immediate, where the 64-bit form takes a copy of v, a shift and a
// 10-byte constant load on every position parseFast looks at.
func hashLong(v uint64) uint32  { return uint32((v * 0xCF1BBCDCB7A56463) >> (64 - longBits)) }
func hashShort(v uint64) uint32 { return (uint32(v) * 0x85EBCA87) >> (32 - shortBits) }

// textLike reports whether src starts like text: nine in ten of its first
// 512 bytes printable ASCII, tab, CR or LF (an empty src counts as text).
// Text gets the bucket parse of [Encoder.parseText], which finds matches
// that parseFast misses (2-7% smaller output on the tests' text corpora);
// other data gets parseFast, for the figures in its comment.
func textLike(src []byte) bool {
	s := src[:min(len(src), 512)]
	t := 0
	for _, b := range s {
		if b >= 0x20 && b < 0x7f || b == '\n' || b == '\t' || b == '\r' {
			t++
		}
	}
	return t*10 >= len(s)*9
}

// parseFast fills e.seqs and the literal entries of e.freq as parse does,
// with a greedy parse that looks up one candidate per table instead of
// searching chains, after zstd's "double fast" strategy: a match of 8 bytes
// from the long table is taken at once; a match of 4 from the short table
// gives way to a long match, or a longer short one, starting one position
// later; failing both, a match of 3 bytes at most nearOffset back is taken
// unless a match of 4 starts one position later. A match found is extended
// backwards over the pending literals. Of the positions a match covers,
// only three are added to the tables (see the loop's end). Lookups
// stop where the next position's 8-byte load would pass the chunk's end, so
// no match starts in its last 7 bytes.
//
// On the binary data of the Debian tree of make bench it is 1.3x as fast as
// a lazy parse searching hash chains 8 deep, for 1.6% more output; on
// /usr/bin (large C++ executables), 1.3x for 3%. A fast encoder gives up
// its second table and 3-byte matches for parseSingle.
func (e *Encoder) parseFast(src []byte) {
	ns := 0
	w := &e.win
	copy(w[:], src)
	t := &e.ht
	*t = hashTables{}
	fr := &e.freq
	*fr = [numSymbols]uint32{}

	n := len(src)
	last := n - 9 // the last position whose successor can load 8 bytes
	lit := 0      // start of the pending literal run
	p := 0
	for p <= last {
		v := w.load64(uint16(p))
		// Inlined calls in this loop sit on lines that have an
		// instruction of parseFast's own (a load, a store, a test of
		// the result): a call whose line has none costs a NOP, its
		// inline mark. With the hashes on lines of their own, those
		// NOPs and addThree's were four of the ~60 instructions of a
		// literal position. The three table's stores and the seeding
		// of the tables after a match are written out for this reason.
		cl, cs := int(t.long[hashLong(v)]), int(t.short[hashShort(v)])
		t.long[hashLong(v)], t.short[hashShort(v)] = uint16(p+1), uint16(p+1)
		// The three table gets p in each branch: the last one reads the
		// entry p replaces.
		var length, cand int
		switch {
		case cl != 0 && w.load64(uint16(cl-1)) == v:
			t.three[hash3(uint32(v))] = uint16(p + 1)
			cand = cl - 1
			length = 8 + w.matchLen(cand+8, p+8, n-p-8)
		case cs != 0 && w.load32(uint16(cs-1)) == uint32(v):
			t.three[hash3(uint32(v))] = uint16(p + 1)
			cand, length = cs-1, 4+w.matchLen(cs-1+4, p+4, n-p-4)
			// Position q = p+1 gives a better match if it has one of 8
			// bytes in the long table or, when this one is under 8, a
			// short one at least 2 bytes longer; q goes into the tables
			// consulted. Written out here: as a call, it made the loop
			// spill and reload its values around it, for 6% more of
			// parseFast's instructions (callgrind, 30 MB of /usr/bin:
			// 802M with the call, 756M without).
			q, vq := p+1, w.load64(uint16(p+1))
			c, l := int(t.long[hashLong(vq)]), 0
			t.long[hashLong(vq)] = uint16(q + 1)
			if c != 0 && w.load64(uint16(c-1)) == vq {
				l = 8 + w.matchLen(c-1+8, q+8, n-q-8)
			} else if length < 8 {
				c = int(t.short[hashShort(vq)])
				t.short[hashShort(vq)] = uint16(q + 1)
				if c != 0 && w.load32(uint16(c-1)) == uint32(vq) {
					if l = 4 + w.matchLen(c-1+4, q+4, n-q-4); l <= length+1 {
						l = 0
					}
				}
			}
			if l != 0 {
				fr[uint8(v)]++
				p, cand, length = q, c-1, l
			}
		default:
			if c3 := t.addThree(v, p); c3 != 0 && p < c3+nearOffset && (w.load32(uint16(c3-1))^uint32(v))&0xFFFFFF == 0 &&
				!t.hasShort(w, p+1) {
				cand = c3 - 1
				length = 3 + w.matchLen(cand+3, p+3, n-p-3)
				break
			}
			// The usual literal, before any skipping, is counted here
			// from v's low byte in 6 instructions; skipLiterals' loop
			// bounded by n took 14. This and the NOPs above: parseFast
			// 911M -> 823M instructions (callgrind, 30 MB of /usr/bin).
			if p >= lit+1<<fastSkipShift {
				p = e.skipLiterals(p, (p-lit)>>fastSkipShift, n)
				continue
			}
			fr[uint8(v)]++
			p++
			continue
		}
		for p > lit && cand > 0 && w[uint16(p-1)] == w[uint16(cand-1)] {
			p--
			cand--
			length++
			fr[w[uint16(p)]]--
		}
		// sym is left for tally to set.
		sq := &e.seqBuf[ns]
		sq.lits, sq.length, sq.offset = uint32(p-lit), uint32(length), uint32(p-cand)
		ns++
		start := p
		p += length
		lit = p
		if p <= last {
			// Of the match's positions, start+2 goes into the long and
			// short tables, p-2 into the long one and p-1 into the
			// short one, as zstd's double fast does (p <= last keeps
			// the loads in the chunk; the three table gets none).
			vs := w.load64(uint16(start + 2))
			t.long[hashLong(vs)], t.short[hashShort(vs)] = uint16(start+3), uint16(start+3)
			t.long[hashLong(w.load64(uint16(p-2)))] = uint16(p - 1)
			t.short[hashShort(w.load64(uint16(p-1)))] = uint16(p)
		}
	}
	e.endParse(e.seqBuf[:ns], p, lit, n)
}

// addThree adds position p, whose first bytes are v, to the three table
// and returns the entry it replaces. The hash is on the lines of the load
// and store and the caller tests the result on the line of the call, so
// that the inlined calls cost no NOPs (see parseFast).
func (t *hashTables) addThree(v uint64, p int) int {
	c := int(t.three[hash3(uint32(v))])
	t.three[hash3(uint32(v))] = uint16(p + 1)
	return c
}

// hasShort reports whether the short table holds a match of 4 bytes for
// position q.
func (t *hashTables) hasShort(w *window, q int) bool {
	v := w.load64(uint16(q))
	c := int(t.short[hashShort(v)])
	return c != 0 && w.load32(uint16(c-1)) == uint32(v)
}
