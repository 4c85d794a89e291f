package xpress

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

func hashBucket(v uint32) uint32 { return (v * 0x9E3779B1) >> (32 - bucketBits) }

// add adds position p, where the 4 bytes v start, to its bucket.
func (t *buckets) add(v uint32, p int) {
	h := hashBucket(v)
	t[h] = t[h]<<16 | uint64(p+1)
}

// parseText fills e.seqs with a lazy parse of src, and the literal entries
// of e.freq with the frequencies of the literals it leaves (the other
// entries zero).
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
// costs more (register spills).
func (e *Encoder) parseText(src []byte) {
	ns := 0
	w := &e.win
	copy(w[:], src)
	t := &e.bt
	*t = buckets{}
	fr := &e.freq
	*fr = [numSymbols]uint32{}

	n := len(src)
	last := n - 4 // the last position with 4 bytes to hash
	lit := 0      // start of the pending literal run
	p := 0
	for p <= last {
		v := w.load32(uint16(p))
		h := hashBucket(v)
		b := t[h]
		t[h] = b<<16 | uint64(p+1)
		cand, length := 0, 0
		// A candidate must match the byte that would make it longer than
		// the best so far, checked with the 4 bytes that end in it, and
		// the first 4 bytes.
		for best := minMatch; b != 0; b >>= 16 {
			cp := int(uint16(b)) - 1
			if w.load32(uint16(cp+best-3)) != w.load32(uint16(p+best-3)) || w.load32(uint16(cp)) != v {
				continue
			}
			if l := 4 + w.matchLen(cp+4, p+4, n-p-4); l > best {
				cand, length, best = cp, l, l
				if best >= niceLen {
					break
				}
			}
		}
		if length == 0 {
			if p-lit < 1<<skipShift {
				fr[w[uint16(p)]]++
				p++
			} else {
				p = e.skipLiterals(p, (p-lit)>>skipShift, n)
			}
			continue
		}
		for length < niceLen && p < last {
			c, l := e.lazyMatch(p+1, n, length)
			if l == 0 {
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
		e.seqBuf[ns] = seq{lits: uint32(p - lit), length: uint32(length), offset: uint32(p - cand)}
		ns++
		p += length
		lit = p
		end := min(p, last+1)
		if length > skipAfter {
			// A run or a repeated block: only its tail is worth adding,
			// and skipping the rest keeps runs linear and fast.
			ins = max(ins, end-keepTail)
		}
		for ; ins < end-4; ins += 2 {
			t.add(w.load32(uint16(ins)), ins)
		}
		for ; ins < end; ins++ {
			t.add(w.load32(uint16(ins)), ins)
		}
	}
	e.endParse(e.seqBuf[:ns], p, lit, n)
}

// lazyMatch returns the start and length of the longest match longer than
// best at position q (q+4 <= n) among the positions of its bucket, or
// length 0 if there is none, and adds q to the bucket.
func (e *Encoder) lazyMatch(q, n, best int) (cand, length int) {
	w, t := &e.win, &e.bt
	v := w.load32(uint16(q))
	h := hashBucket(v)
	b := t[h]
	t[h] = b<<16 | uint64(q+1)
	limit := min(niceLen, n-q)
	qb := w.load32(uint16(q + best - 3))
	for ; b != 0; b >>= 16 {
		cp := int(uint16(b)) - 1
		if w.load32(uint16(cp+best-3)) != qb || w.load32(uint16(cp)) != v {
			continue
		}
		if l := 4 + w.matchLen(cp+4, q+4, n-q-4); l > best {
			cand, length, best = cp, l, l
			if best >= limit {
				break
			}
			qb = w.load32(uint16(q + best - 3))
		}
	}
	return cand, length
}
