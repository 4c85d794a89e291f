package xpress

import "encoding/binary"

// Parameters of the bucket parse (parseText), which text chunks get.
const (
	bucketBits = 14 // of the 4-byte hash that picks a bucket
	niceLen    = 48 // a match this long is taken without searching further
	// Of a match longer than skipAfter, only the last keepTail positions
	// are added to the buckets.
	skipAfter = 256
	keepTail  = 16
	// After 1<<skipShift literals in a row, the parser starts skipping
	// positions, one more for every further 1<<skipShift literals.
	skipShift = 5
)

// buckets holds the match-finding table of [Encoder.parseText]: for a hash
// of the 4 bytes at a position, the last four positions added with that
// hash, plus one (0: none), packed 16 bits each, the latest in the low
// bits. Adding a position shifts the oldest out. parseText clears the table
// for every chunk, so it never points outside it.
type buckets [1 << bucketBits]uint64

// hashMul is the multiplier of the hash of 4 bytes v that picks their
// bucket, v*hashMul>>(32-bucketBits). parseText and lazyMatch write it out,
// and the 4-byte load of the position they search, and add positions as
// b<<16 + p + 1, without helpers: an inlined call leaves a NOP where no
// instruction of the call's own line can mark it (one per position
// searched, three per position added: 17 M instructions of 10 MB of
// /usr/include), and p+1 would be a value the literal step's p++ shares,
// kept live across the search.
const hashMul = 0x9E3779B1

// parseText fills e.seqs, in e.seqBuf, with a lazy parse of src, and the
// literal entries of e.freq with the frequencies of the literals it leaves
// (the other entries zero).
//
// At each position it takes the longest match among the four positions of
// its bucket; then, while that match is shorter than niceLen, it looks one
// position further for a longer one (lazy evaluation, [Encoder.lazyMatch]).
// The match it takes is extended backwards over the pending literals, which
// finds what the shallow buckets missed (0.7% of output on the tests' text
// corpus, 2.6% on generated text). Of the positions a match covers, every
// other one is added to the buckets, and its last four.
//
// Against the chain parse it replaced (hash chains searched 8 deep, a
// 3-byte table), it executes 60% of the instructions on the text of the
// Debian tree of make bench and 64% on /usr/include (33.0 and 33.7 against
// 54.6 and 52.3 per byte), for 1.0% less output on the first and 0.2% more
// on the second; TestWimlibRatio's text corpora went from 1.032 and 1.036
// times wimlib's size to 1.035 and 1.030.
//
// The first search and the common literal step are inlined: as calls they
// cost a fifth more instructions. The lazy search is not, for inlined it
// costs more (register spills; 262 against 255 M instructions for 10 MB of
// /usr/include and /usr/share/doc, callgrind), and neither is everything
// after the first search (a call per match: 283 against 265 M, measured
// on an earlier stage of the loop below).
//
// The hot loop is shaped to keep few values live, for Go's register
// allocator spills a value live across the lazyMatch call at its
// definition, and resolves loop phis with moves on every back edge: the
// literal loop is nested in the match loop so that lit is no phi in it;
// the sequences are appended to e.seqs in memory rather than indexed
// through a base and a count held in registers; the chunk's end is known
// as last alone; a literal is counted from the loaded v, and the skipping
// step counts from p+1, so that uint16(p) is not kept for them; the first
// search keeps its best length in best alone. Against the loop before
// (one flat loop), parseText with lazyMatch executes 242 M instructions
// instead of 306 on the data above, and 64.0 M instead of 80.0 on 10 MB
// of the text and binaries of the bench tree's /usr/share. Tried and
// worse: the first search's 4 bytes at p+best-3 kept in a variable, as
// lazyMatch keeps them (+6 M), a sequence written field by field (+4.6
// M), end and the skip's bound written so as not to derive from len(src)
// (+3.3 M), the literal step testing p before p++ (+3.7 M).
func (e *Encoder) parseText(src []byte) {
	e.seqs = e.seqBuf[:0]
	w := &e.win
	copy(w[:], src)
	t := &e.bt
	*t = buckets{}
	fr := &e.freq
	*fr = [numSymbols]uint32{}

	last := len(src) - 4 // the last position with 4 bytes to hash
	lit := 0             // start of the pending literal run
	p := 0
outer:
	for {
		// The literal loop, where lit stays put; a literal leaves cand and
		// best as they are.
		cand, best := 0, minMatch
		for {
			if p > last {
				break outer
			}
			v := binary.LittleEndian.Uint32(w[uint16(p):]) // not load32: see hashMul
			h := v * hashMul >> (32 - bucketBits)
			b := t[h]
			t[h] = b<<16 + uint64(p) + 1
			// The first candidate whose 4 bytes match gives a match. Until
			// then best is minMatch, and the check of the loop below comes
			// down to this one: split, a candidate costs 9 instructions
			// instead of 14 before the first match (4.9 M fewer for 10 MB
			// of /usr/include).
			for ; b != 0; b >>= 16 {
				cp := int(uint16(b)) - 1
				if w.load32(uint16(cp)) == v {
					cand, best = cp, 4+w.matchLen(cp+4, p+4, last-p)
					break
				}
			}
			// A later one must also match the byte that would make it
			// longer than the best so far, checked with the 4 bytes that
			// end in it.
			for b >>= 16; b != 0 && best < niceLen; b >>= 16 {
				cp := int(uint16(b)) - 1
				if w.load32(uint16(cp+best-3)) != w.load32(uint16(p+best-3)) || w.load32(uint16(cp)) != v {
					continue
				}
				if l := 4 + w.matchLen(cp+4, p+4, last-p); l > best {
					cand, best = cp, l
				}
			}
			if best != minMatch {
				break
			}
			fr[byte(v)]++
			p++
			if p > lit+1<<skipShift {
				// It stops at last+1, not at the end, which needs no
				// register of its own; endParse counts the bytes after.
				p = e.skipLiterals(p, (p-1-lit)>>skipShift-1, last+1)
			}
		}
		length := best
		for length < niceLen && p < last {
			c, l := e.lazyMatch(p+1, last, length)
			if c < 0 {
				break
			}
			fr[w[uint16(p)]]++
			p++
			cand, length = c, l
		}
		ins := p + 2 // the next position to add: p, and p+1 if searched, are in
		for p > lit && cand > 0 && w[uint16(p-1)] == w[uint16(cand-1)] {
			p--
			cand--
			length++
			fr[w[uint16(p)]]--
		}
		e.seqs = append(e.seqs, seq{lits: uint32(p - lit), length: uint32(length), offset: uint32(p - cand)})
		p += length
		lit = p
		end := min(p, last+1)
		if length > skipAfter {
			// A run or a repeated block: only its tail is worth adding,
			// and skipping the rest keeps runs linear and fast.
			ins = max(ins, end-keepTail)
		}
		// Unrolled once: 3.4 M fewer instructions on /usr/include.
		stop := end - 4
		for ; ins < stop-2; ins += 4 {
			h := w.load32(uint16(ins)) * hashMul >> (32 - bucketBits)
			t[h] = t[h]<<16 + uint64(ins) + 1
			h = w.load32(uint16(ins+2)) * hashMul >> (32 - bucketBits)
			t[h] = t[h]<<16 + uint64(ins) + 3
		}
		if ins < stop {
			h := w.load32(uint16(ins)) * hashMul >> (32 - bucketBits)
			t[h] = t[h]<<16 + uint64(ins) + 1
			ins += 2
		}
		for ; ins < end; ins++ {
			h := w.load32(uint16(ins)) * hashMul >> (32 - bucketBits)
			t[h] = t[h]<<16 + uint64(ins) + 1
		}
	}
	e.endParse(e.seqs, p, lit, last+4)
}

// lazyMatch returns the start and length of the longest match longer than
// best at position q (q <= last, the last position of the chunk with 4
// bytes) among the positions of its bucket, or start -1 if there is none,
// and adds q to the bucket. (Returning length 0 for none kept a length
// apart from best in a register: 1.4 M more instructions for 10 MB of
// /usr/include.)
func (e *Encoder) lazyMatch(q, last, best int) (cand, length int) {
	cand = -1
	w, t := &e.win, &e.bt
	v := binary.LittleEndian.Uint32(w[uint16(q):])
	h := v * hashMul >> (32 - bucketBits)
	b := t[h]
	t[h] = b<<16 + uint64(q) + 1
	limit := min(niceLen, last+4-q)
	qb := w.load32(uint16(q + best - 3))
	for ; b != 0; b >>= 16 {
		cp := int(uint16(b)) - 1
		if w.load32(uint16(cp+best-3)) != qb || w.load32(uint16(cp)) != v {
			continue
		}
		if l := 4 + w.matchLen(cp+4, q+4, last-q); l > best {
			cand, best = cp, l
			if best >= limit {
				break
			}
			qb = w.load32(uint16(q + best - 3))
		}
	}
	return cand, best
}
