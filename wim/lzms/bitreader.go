package lzms

import "encoding/binary"

// The bit reader reads Huffman codewords and extra bits from the end of a
// chunk backwards: 16-bit little-endian units from the last one down, each
// from its most significant bit. Its state is a bit buffer, buf, holding the
// next bits MSB-aligned, of which nbits are counted, and pos: src[:pos] is
// not loaded yet. The bits below the counted ones may be set, but then they
// are the true next bits of the stream, so loading them again ORs in the
// same values.
//
// The decoding loop keeps that state in local variables and uses the
// functions below; bitReader holds it otherwise.

// refillBits is how many bits a refill guarantees: a codeword (15 bits) and
// its extra bits (up to 30).
const refillBits = 48

// refillFast adds the whole units of the 8 bytes before pos (pos >= 8) that
// fit in the buffer, which holds fewer than refillBits bits. Those bytes are
// the next four units with the first in the top 16 bits: stream order.
func refillFast(buf uint64, nbits uint, pos int, src []byte) (uint64, uint, int) {
	buf |= binary.LittleEndian.Uint64(src[pos-8:]) >> nbits
	k := (64 - nbits) >> 4
	return buf, nbits + 16*k, pos - int(2*k)
}

// takeBits consumes the next n bits (n <= nbits) and returns them.
func takeBits(buf uint64, nbits uint, n uint32) (uint32, uint64, uint) {
	return uint32(buf >> 1 >> (63 - n)), buf << n, nbits - uint(n)
}

// bitReader holds the bit reader's state outside the decoding loop. Units
// before the start of src read as zero; zeros counts those bits, and a
// stream that consumes any of them is corrupt.
type bitReader struct {
	buf   uint64
	nbits uint
	pos   int
	zeros int // zero bits appended past the start of src
	src   []byte
}

// init starts reading src (of even length) from its end.
func (r *bitReader) init(src []byte) {
	*r = bitReader{pos: len(src), src: src}
}

// refill makes at least refillBits bits available.
func (r *bitReader) refill() {
	if r.nbits >= refillBits {
		return
	}
	if r.pos >= 8 {
		r.buf, r.nbits, r.pos = refillFast(r.buf, r.nbits, r.pos, r.src)
		return
	}
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
	var v uint32
	v, r.buf, r.nbits = takeBits(r.buf, r.nbits, n)
	return v
}

// overrun reports whether bits before the start of src were consumed: the
// zero bits appended are the last ones counted.
func (r *bitReader) overrun() bool { return r.zeros > int(r.nbits) }
