package lzms

import "encoding/binary"

// probEntry is one adaptive probability: the last 64 bits decoded with it,
// the most recent in the low bit, and how many of them are zeros.
type probEntry struct {
	history uint64
	zeros   uint8
}

var initialEntry = probEntry{history: initialHistory, zeros: 48}

// probOf maps a count of zeros to the probability of a 0 in 64ths that the
// range decoder uses: the count itself, but 1 for 0 and 63 for 64.
var probOf = func() (t [256]uint32) {
	for z := range t {
		t[z] = uint32(min(max(z, 1), 1<<probBits-1))
	}
	return t
}()

// class is a decision class: its recent decisions (state, most recent in
// the low bit) select one of its probabilities. Classes remember 4, 5 or 6
// decisions; the caller masks the state with 15, 31 or 63 accordingly.
type class struct {
	state uint32
	probs [64]probEntry
}

// reset gives the class its initial state.
func (c *class) reset() {
	c.state = 0
	for i := range c.probs {
		c.probs[i] = initialEntry
	}
}

// Masks of the states of the classes with 4, 5 and 6 decisions of history.
const (
	mask4 = 1<<4 - 1
	mask5 = 1<<5 - 1
	mask6 = 1<<6 - 1
)

// decide decodes a decision with probability entry e from the range state
// (rng, code), which is normalized, and returns the new state and the bit.
// If the code is below the bound that splits the range in the probability
// of a 0, the bit is a 0 and the range shrinks to the bound; otherwise it is
// a 1 and the bound is taken off both.
func decide(rng, code uint32, e *probEntry) (uint32, uint32, uint32) {
	bound := (rng >> probBits) * probOf[e.zeros]
	bit := b2u(code >= bound)
	m := -bit
	code -= bound & m
	rng = bound + (rng-2*bound)&m
	e.zeros += uint8(e.history>>63) - uint8(bit)
	e.history = e.history<<1 | uint64(bit)
	return rng, code, bit
}

// at returns the probability entry for the class's next decision, its
// history masked by mask (mask4, mask5 or mask6).
func (c *class) at(mask uint32) *probEntry { return &c.probs[c.state&mask] }

// push records a decision of the class.
func (c *class) push(bit uint32) { c.state = c.state<<1 | bit }

// normalized returns the range state after bringing in the next 16-bit unit
// of src at pos if the range is below 2^16. Units past the end read as zero
// and still advance pos.
func normalized(rng, code uint32, pos int, src []byte) (uint32, uint32, int) {
	if rng >= 1<<16 {
		return rng, code, pos
	}
	var w uint32
	if pos+2 <= len(src) {
		w = uint32(binary.LittleEndian.Uint16(src[pos:]))
	}
	return rng << 16, code<<16 | w, pos + 2
}

// rangeDecoder holds the range decoder's state between the decoding loop
// and the code that decodes delta matches.
type rangeDecoder struct {
	rng  uint32
	code uint32
	pos  int // next byte of src
	src  []byte
}

// init starts decoding src, which holds at least 4 bytes: the range is
// 0xFFFFFFFF and the code the first two units, the first the high half.
func (r *rangeDecoder) init(src []byte) {
	r.src = src
	r.rng = 0xFFFFFFFF
	r.code = uint32(binary.LittleEndian.Uint16(src))<<16 | uint32(binary.LittleEndian.Uint16(src[2:]))
	r.pos = 4
}

// overrun reports whether units past the end of src were read.
func (r *rangeDecoder) overrun() bool { return r.pos > len(r.src) }

// decode returns the next decision of class c (history mask mask).
func (r *rangeDecoder) decode(c *class, mask uint32) uint32 {
	r.rng, r.code, r.pos = normalized(r.rng, r.code, r.pos, r.src)
	var bit uint32
	r.rng, r.code, bit = decide(r.rng, r.code, c.at(mask))
	c.push(bit)
	return bit
}
