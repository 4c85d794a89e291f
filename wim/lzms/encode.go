package lzms

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
)

// The encoder writes what the decoder reads: literals and LZ matches, at
// explicit or repeated offsets, chosen by a one-step lazy parse over hash
// chains. It makes no delta matches, which the format allows but never
// requires, and no near-optimal parse as wimlib's compressor does, so its
// output is larger than wimlib's (6-9% on the benchmark data) and made
// about 5 times as fast.

// Match finding: a hash of the 4 bytes at a position selects a chain of the
// earlier positions with that hash, searched at most maxChain deep.
const (
	hashBits = 16
	maxChain = 64
	minMatch = 4
	// niceMatch stops the search early: a match this long is taken.
	niceMatch = 192
	// minEncode is the smallest chunk Encode compresses; smaller ones
	// could not come out smaller than they are.
	minEncode = 16
)

// Encoder compresses chunks into LZMS. It is reusable and keeps its working
// memory between calls (about 7 bytes per byte of the largest chunk, and
// 300 KiB); it is not safe for concurrent use.
type Encoder struct {
	rc       rangeEncoder
	bw       bitWriter
	classes  classes
	literal  encCode
	length   encCode
	lzOffset encCode
	builder  codeBuilder
	x86      x86Filter
	reps     repQueue // the decoder's LZ repeat offsets
	lzEnd    int      // where the last LZ match ended, or -1
	chosen   int      // the last position choose added to the chains
	buf      []byte   // the chunk, x86-translated
	head     []int32  // by hash: the last position added plus 1, or 0
	prev     []int32  // by position: the previous one with its hash plus 1, or 0
}

// NewEncoder returns an Encoder.
func NewEncoder() *Encoder {
	e := &Encoder{head: make([]int32, 1<<hashBits)}
	e.literal.init(numLiteralSyms, literalPeriod, &e.builder)
	e.length.init(numLengthSyms, lengthPeriod, &e.builder)
	e.lzOffset.init(maxOffsetSyms, offsetPeriod, &e.builder)
	return e
}

// Encode appends the LZMS compressed form of src to dst and returns the
// extended slice. It panics if len(src) > MaxChunkSize. When that form
// would be no smaller than src, Encode appends src itself instead: a WIM
// stores such a chunk raw, and the caller, seeing a result as long as src,
// does so.
func (e *Encoder) Encode(dst, src []byte) []byte {
	n := len(src)
	if n > MaxChunkSize {
		panic(fmt.Sprintf("lzms: chunk of %d bytes exceeds %d", n, MaxChunkSize))
	}
	if n < minEncode {
		return append(dst, src...)
	}
	e.buf = append(e.buf[:0], src...)
	e.x86.apply(e.buf)
	e.reset(n)
	e.parse()
	front := e.rc.finish()
	e.bw.finish()
	size := len(front) + 2*len(e.bw.units)
	if size >= n {
		return append(dst, src...)
	}
	dst = append(dst, front...)
	for i := len(e.bw.units) - 1; i >= 0; i-- {
		dst = binary.LittleEndian.AppendUint16(dst, e.bw.units[i])
	}
	return dst
}

// reset prepares the coders and the match finder for a chunk of n bytes.
func (e *Encoder) reset(n int) {
	e.classes.reset()
	e.rc.reset(e.rc.out)
	e.bw.reset()
	e.literal.reset(numLiteralSyms)
	e.length.reset(numLengthSyms)
	e.lzOffset.reset(numOffsetSlots(n))
	clear(e.head)
	e.prev = slices.Grow(e.prev[:0], n)[:n]
}

// parse encodes the items of e.buf. At each position it weighs the
// longest match the chains give against the longest at a usable repeat
// offset, by the bytes each saves less a rough cost of its encoding, and
// takes the better unless the next position offers more (a one-step lazy
// parse); failing both, a literal.
func (e *Encoder) parse() {
	b := e.buf
	n := len(b)
	e.reps, e.lzEnd, e.chosen = newRepQueue(), -1, -1
	cur := e.choose(0)
	for p := 0; p < n; {
		if cur.length == 0 {
			e.putLiteral(b[p])
			p++
			cur = e.choose(p)
			continue
		}
		if p+1 < n {
			if next := e.choose(p + 1); next.gain > cur.gain+literalCost {
				e.putLiteral(b[p])
				p++
				cur = next
				continue
			}
		}
		e.putChoice(p, cur)
		end := p + cur.length
		for p++; p < end; p++ {
			if p > e.chosen { // positions choose has not added yet
				e.insert(p)
			}
		}
		cur = e.choose(p)
	}
}

// Rough costs in bits, for choosing between items: a literal, an explicit
// match before its offset's bits, and a repeat match.
const (
	literalCost  = 8
	explicitCost = 14
	repeatCost   = 6
)

// choice is an item that starts at a position: a match of length bytes
// (0: a literal) at offset, or at repeat entry rep (offset 0), and the bits
// it saves against literals.
type choice struct {
	length, offset, rep, gain int
}

// choose adds position p to the chains and returns the item to take
// there: the match that saves more, a repeat or an explicit one, or a
// literal if neither saves anything.
func (e *Encoder) choose(p int) choice {
	e.chosen = max(e.chosen, p)
	var best choice
	length, offset := e.find(p)
	if length >= minMatch {
		best = choice{length: length, offset: offset,
			gain: length*literalCost - explicitCost - bits.Len(uint(offset))}
	}
	limit := len(e.buf) - p
	skip := b2u(p == e.lzEnd)
	for j := range uint32(numReps) {
		off := int(e.reps[j+skip])
		if off > p {
			continue
		}
		l := matchLen(e.buf, p-off, p, limit)
		if g := l*literalCost - repeatCost; l >= 2 && g > best.gain {
			best = choice{length: l, rep: int(j), gain: g}
		}
	}
	if best.gain <= 0 {
		return choice{}
	}
	return best
}

// putChoice encodes match c at p and updates the repeat queue as decoding
// it does.
func (e *Encoder) putChoice(p int, c choice) {
	if c.offset != 0 {
		e.putMatch(c.length, c.offset)
		e.reps.push(uint64(c.offset))
	} else {
		e.putRepeat(c.length, uint32(c.rep))
		e.reps.take(uint32(c.rep) + b2u(p == e.lzEnd))
	}
	e.lzEnd = p + c.length
}

// hash4 hashes the 4 bytes at p (p+4 <= len(e.buf)).
func (e *Encoder) hash4(p int) uint32 {
	return binary.LittleEndian.Uint32(e.buf[p:]) * 0x9E3779B1 >> (32 - hashBits)
}

// insert adds position p to its chain, if 4 bytes start there.
func (e *Encoder) insert(p int) {
	if p+minMatch > len(e.buf) {
		return
	}
	h := e.hash4(p)
	e.prev[p] = e.head[h]
	e.head[h] = int32(p + 1)
}

// find adds position p to its chain and returns the longest match for it
// among the earlier positions of the chain (length 0 if none).
func (e *Encoder) find(p int) (length, offset int) {
	b := e.buf
	if p+minMatch > len(b) {
		return 0, 0
	}
	h := e.hash4(p)
	c := int(e.head[h])
	e.prev[p] = int32(c)
	e.head[h] = int32(p + 1)
	limit := len(b) - p
	for depth := 0; c != 0 && depth < maxChain; depth++ {
		q := c - 1
		if l := matchLen(b, q, p, limit); l > length {
			length, offset = l, p-q
			if l >= niceMatch || l == limit {
				break
			}
		}
		c = int(e.prev[q])
	}
	return length, offset
}

// matchLen returns the length of the common prefix of b[a:] and b[p:], at
// most limit (p+limit <= len(b), a < p).
func matchLen(b []byte, a, p, limit int) int {
	n := 0
	for n+8 <= limit {
		x := binary.LittleEndian.Uint64(b[a+n:]) ^ binary.LittleEndian.Uint64(b[p+n:])
		if x != 0 {
			return n + bits.TrailingZeros64(x)>>3
		}
		n += 8
	}
	for n < limit && b[a+n] == b[p+n] {
		n++
	}
	return n
}

// putLiteral encodes a literal item.
func (e *Encoder) putLiteral(c byte) {
	e.rc.encode(&e.classes.main, mask4, 0)
	e.literal.put(&e.bw, int(c))
}

// putMatch encodes an LZ match with an explicit offset: the decisions
// match, LZ and explicit, then the offset's slot and extra bits, then the
// length's.
func (e *Encoder) putMatch(length, offset int) {
	c := &e.classes
	e.rc.encode(&c.main, mask4, 1)
	e.rc.encode(&c.match, mask5, 0)
	e.rc.encode(&c.lz, mask6, 0)
	e.putSlotted(&e.lzOffset, offsetSlots, offset)
	e.putSlotted(&e.length, lengthSlots, length)
}

// putRepeat encodes an LZ match at repeat entry j (0 to 2) of the usable
// ones: the decisions match, LZ and repeat, then which entry, then the
// length.
func (e *Encoder) putRepeat(length int, j uint32) {
	c := &e.classes
	e.rc.encode(&c.main, mask4, 1)
	e.rc.encode(&c.match, mask5, 0)
	e.rc.encode(&c.lz, mask6, 1)
	e.rc.encode(&c.lzRep[0], mask6, b2u(j != 0))
	if j != 0 {
		e.rc.encode(&c.lzRep[1], mask6, b2u(j == 2))
	}
	e.putSlotted(&e.length, lengthSlots, length)
}

// putSlotted writes value as a symbol of code, the slot of slots that
// holds it, and its extra bits.
func (e *Encoder) putSlotted(code *encCode, slots *[1024]slotInfo, value int) {
	s := slotOf(slots, code.numSyms, uint32(value))
	code.put(&e.bw, s)
	si := slots[s]
	e.bw.put(uint32(value)-si.base(), uint(si.extra()))
}

// slotOf returns the slot among the first n of slots whose range holds v.
func slotOf(slots *[1024]slotInfo, n int, v uint32) int {
	i, _ := slices.BinarySearchFunc(slots[:n], v, func(s slotInfo, v uint32) int {
		switch {
		case s.base() > v:
			return 1
		case s.base()+1<<s.extra() <= v:
			return -1
		}
		return 0
	})
	return i
}

// encCode is an adaptive Huffman code on the encoder's side: the same
// frequencies and rebuilds as the decoder's adaptiveCode, with codewords
// instead of a decoding table.
type encCode struct {
	numSyms int
	period  int
	left    int // symbols to encode before the next rebuild
	builder *codeBuilder
	freqs   []uint32
	lens    []uint8
	codes   []uint16
}

// init sizes the code for up to maxSyms symbols, rebuilt every period.
func (c *encCode) init(maxSyms, period int, b *codeBuilder) {
	c.period, c.builder = period, b
	c.freqs = make([]uint32, maxSyms)
	c.lens = make([]uint8, maxSyms)
	c.codes = make([]uint16, maxSyms)
}

// reset starts the code over with numSyms symbols of frequency 1.
func (c *encCode) reset(numSyms int) {
	c.numSyms = numSyms
	for i := range c.freqs[:numSyms] {
		c.freqs[i] = 1
	}
	c.build()
}

// build makes the codewords of the current frequencies. A code of one
// symbol writes it as one 0 bit, which the decoder reads as it.
func (c *encCode) build() {
	c.left = c.period
	switch c.numSyms {
	case 0:
	case 1:
		c.lens[0], c.codes[0] = 1, 0
	default:
		lens := c.lens[:c.numSyms]
		c.builder.codeLengths(c.freqs[:c.numSyms], lens)
		canonicalCodes(lens, c.codes[:c.numSyms])
	}
}

// put writes symbol s and counts it, rebuilding the code as the decoder
// does after the same symbols.
func (c *encCode) put(w *bitWriter, s int) {
	w.put(uint32(c.codes[s]), uint(c.lens[s]))
	c.freqs[s]++
	c.left--
	if c.left == 0 {
		c.build()
		for i := range c.freqs[:c.numSyms] {
			c.freqs[i] = c.freqs[i]>>1 + 1
		}
	}
}

// canonicalCodes sets codes to the canonical codewords of lens (1 to
// maxCodeLen): shorter codewords first, equal lengths in symbol order, as
// the decoder's table assigns them.
func canonicalCodes(lens []uint8, codes []uint16) {
	var count [maxCodeLen + 1]uint16
	for _, l := range lens {
		count[l]++
	}
	var next [maxCodeLen + 1]uint16
	code := uint16(0)
	for l := 1; l <= maxCodeLen; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	for s, l := range lens {
		codes[s] = next[l]
		next[l]++
	}
}
