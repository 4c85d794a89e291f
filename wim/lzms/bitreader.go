package lzms

import "encoding/binary"

// bitReader reads Huffman codewords and extra bits from the end of a chunk
// backwards: 16-bit little-endian units from the last one down, each from its
// most significant bit.
//
// buf holds the next bits MSB-aligned; nbits of them are counted. The bits
// below the counted ones may be set, but then they are the true next bits of
// the stream, so loading them again ORs in the same values. Units before the
// start of src read as zero; zeros counts those bits, and a stream that
// consumes any of them is corrupt.
type bitReader struct {
	buf   uint64
	nbits uint
	pos   int // src[:pos] is not loaded yet
	zeros int // zero bits appended past the start of src
	src   []byte
}

// init starts reading src (of even length) from its end.
func (r *bitReader) init(src []byte) {
	*r = bitReader{pos: len(src), src: src}
}

// refillBits is how many bits refill guarantees: a codeword (15 bits) and its
// extra bits (up to 30).
const refillBits = 48

// refill makes at least refillBits bits available.
func (r *bitReader) refill() {
	if r.nbits >= refillBits {
		return
	}
	if r.pos < 8 {
		r.refillSlow()
		return
	}
	// The 8 bytes before pos are the next four units, the first one in the
	// top 16 bits: stream order already. Count the whole units that fit.
	r.buf |= binary.LittleEndian.Uint64(r.src[r.pos-8:]) >> r.nbits
	k := (64 - r.nbits) >> 4
	r.pos -= int(2 * k)
	r.nbits += 16 * k
}

// refillSlow loads one unit at a time near the start of src, then zeros.
func (r *bitReader) refillSlow() {
	for r.nbits < refillBits {
		var w uint64
		if r.pos >= 2 {
			r.pos -= 2
			w = uint64(binary.LittleEndian.Uint16(r.src[r.pos:]))
		} else {
			r.zeros += 16
		}
		r.buf |= w << (48 - r.nbits)
		r.nbits += 16
	}
}

// bits consumes and returns the next n bits, 0 <= n <= nbits.
func (r *bitReader) bits(n uint32) uint32 {
	v := uint32(r.buf >> 1 >> (63 - n))
	r.buf <<= n
	r.nbits -= uint(n)
	return v
}

// overrun reports whether bits before the start of src were consumed.
func (r *bitReader) overrun() bool { return r.zeros > int(r.nbits) }
