package lzms

import "encoding/binary"

// rangeEncoder is the range decoder's counterpart (see the package comment):
// it narrows [low, low+rng) as decisions come and writes the settled high
// units of low. A unit whose value a later carry may still change waits in
// cache, with cacheSize-1 units of 0xFFFF after it that the carry would
// turn to zero. The first unit it settles is the one the decoder never
// reads (low starts at 0, so it is always 0), and is dropped.
type rangeEncoder struct {
	low       uint64 // 32 bits and a carry
	rng       uint32
	cache     uint16
	cacheSize int
	dropped   bool // whether the first unit has been dropped
	out       []byte
}

// reset starts a chunk, writing into out's storage.
func (r *rangeEncoder) reset(out []byte) {
	*r = rangeEncoder{rng: 0xFFFFFFFF, cacheSize: 1, out: out[:0]}
}

// encode writes bit as the next decision of class c (history mask mask),
// updating the class as decoding it does.
func (r *rangeEncoder) encode(c *class, mask, bit uint32) {
	e := c.at(mask)
	bound := (r.rng >> probBits) * probOf[e.zeros]
	if bit == 0 {
		r.rng = bound
	} else {
		r.low += uint64(bound)
		r.rng -= bound
	}
	e.zeros += uint8(e.history>>63) - uint8(bit)
	e.history = e.history<<1 | uint64(bit)
	c.push(bit)
	// The decoder brings in a unit before its next decision when the
	// range is this small; the encoder settles one now.
	if r.rng < 1<<16 {
		r.rng <<= 16
		r.shiftLow()
	}
}

// shiftLow moves the top unit of low's 32 bits out: into the cache, once
// the units before it cannot change any more (no carry can reach them, or
// one just did).
func (r *rangeEncoder) shiftLow() {
	if uint32(r.low) < 0xFFFF0000 || r.low>>32 != 0 {
		carry := uint16(r.low >> 32)
		u := r.cache
		for ; r.cacheSize > 0; r.cacheSize-- {
			r.put(u + carry)
			u = 0xFFFF
		}
		r.cache = uint16(r.low >> 16)
	}
	r.cacheSize++
	r.low = (r.low & 0xFFFF) << 16
}

// put appends a settled unit, dropping the first.
func (r *rangeEncoder) put(u uint16) {
	if !r.dropped {
		r.dropped = true
		return
	}
	r.out = binary.LittleEndian.AppendUint16(r.out, u)
}

// finish settles every unit of low and returns the encoded units. The
// decoder reads two units at the start and one per unit the encoder
// settled before a decision, so it never reads past them.
func (r *rangeEncoder) finish() []byte {
	for range 4 {
		r.shiftLow()
	}
	return r.out
}

// bitWriter writes the stream the decoder's bit reader reads: codewords and
// extra bits, each most significant bit first, in 16-bit units that end up
// in the chunk from its end backwards (units holds them in stream order).
type bitWriter struct {
	buf   uint64 // pending bits in the low n
	n     uint
	units []uint16
}

// reset starts a chunk, keeping the storage of units.
func (w *bitWriter) reset() { *w = bitWriter{units: w.units[:0]} }

// put writes the low n bits of v (n <= 32).
func (w *bitWriter) put(v uint32, n uint) {
	w.buf = w.buf<<n | uint64(v)&(1<<n-1)
	w.n += n
	for w.n >= 16 {
		w.n -= 16
		w.units = append(w.units, uint16(w.buf>>w.n))
	}
}

// finish writes the last bits, padded with zeros to a whole unit.
func (w *bitWriter) finish() {
	if w.n > 0 {
		w.units = append(w.units, uint16(w.buf<<(16-w.n)))
		w.n = 0
	}
}
