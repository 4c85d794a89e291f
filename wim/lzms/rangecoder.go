package lzms

import "encoding/binary"

// probEntry is one adaptive probability: the last 64 bits decoded with it,
// the most recent in the low bit, and how many of them are zeros.
type probEntry struct {
	history uint64
	zeros   uint32
}

var initialEntry = probEntry{history: initialHistory, zeros: initialZeros}

// prob returns the probability of a 0 in 64ths, kept within 1..63.
func (e *probEntry) prob() uint32 {
	p := e.zeros
	p += (p - 1) >> 31 // 0 becomes 1
	return p - p>>probBits
}

// update records a decoded bit.
func (e *probEntry) update(bit uint32) {
	e.zeros += uint32(e.history>>63) - bit
	e.history = e.history<<1 | uint64(bit)
}

// class is a decision class: its recent decisions (the state, masked to the
// class's history length) select one of its probabilities.
type class struct {
	state uint32
	mask  uint32
	probs [64]probEntry
}

// reset gives the class its initial state for a history of n decisions.
func (c *class) reset(n uint) {
	c.state = 0
	c.mask = 1<<n - 1
	for i := range c.probs {
		c.probs[i] = initialEntry
	}
}

// rangeDecoder reads the range-coded decisions from the front of a chunk.
// Units past the end of src read as zero and leave pos past len(src), which
// makes the stream corrupt.
type rangeDecoder struct {
	rng  uint32
	code uint32
	pos  int // next byte of src
	src  []byte
}

// init starts decoding src, which holds at least 4 bytes.
func (r *rangeDecoder) init(src []byte) {
	r.src = src
	r.rng = 0xFFFFFFFF
	r.code = uint32(binary.LittleEndian.Uint16(src))<<16 | uint32(binary.LittleEndian.Uint16(src[2:]))
	r.pos = 4
}

// normalize brings in the next 16-bit unit.
func (r *rangeDecoder) normalize() {
	r.rng <<= 16
	r.code <<= 16
	if r.pos+2 <= len(r.src) {
		r.code |= uint32(binary.LittleEndian.Uint16(r.src[r.pos:]))
	}
	r.pos += 2
}

// overrun reports whether units past the end of src were read.
func (r *rangeDecoder) overrun() bool { return r.pos > len(r.src) }

// decode returns the next decision of class c, 0 or 1, and updates the class.
func (r *rangeDecoder) decode(c *class) uint32 {
	e := &c.probs[c.state&63]
	if r.rng < 1<<16 {
		r.normalize()
	}
	bound := (r.rng >> probBits) * e.prob()
	var bit uint32
	if r.code < bound {
		r.rng = bound
	} else {
		r.rng -= bound
		r.code -= bound
		bit = 1
	}
	e.update(bit)
	c.state = (c.state<<1 | bit) & c.mask
	return bit
}
