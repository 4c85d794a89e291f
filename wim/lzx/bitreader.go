package lzx

// bitReader reads the LZX bit stream: 16-bit little-endian words, each from
// its most significant bit. It keeps up to 64 bits, MSB-aligned, in buf.
// Words past the end of src read as zero; overrun reports whether any bit
// of them was consumed, which makes the stream corrupt.
type bitReader struct {
	src   []byte
	pos   int    // next byte of src to load
	buf   uint64 // unconsumed bits, MSB-aligned, zero below them
	nbits uint   // number of unconsumed bits in buf
}

func (r *bitReader) init(src []byte, pos int) {
	*r = bitReader{src: src, pos: pos}
}

// refill loads whole words until more than 48 bits are held.
func (r *bitReader) refill() {
	if r.nbits <= 48 {
		r.buf, r.nbits, r.pos = refill(r.src, r.pos, r.buf, r.nbits)
	}
}

// peek returns the next n bits (n <= nbits, 1..32).
func (r *bitReader) peek(n uint) uint32 { return uint32(r.buf >> (64 - n)) }

// skip consumes n bits (n <= nbits).
func (r *bitReader) skip(n uint) {
	r.buf <<= n
	r.nbits -= n
}

// read consumes and returns n bits, 0..32; the caller has refilled so that
// n <= nbits.
func (r *bitReader) read(n uint) uint32 {
	if n == 0 {
		return 0
	}
	v := r.peek(n)
	r.skip(n)
	return v
}

// consumed returns the stream position in bits.
func (r *bitReader) consumed() int { return r.pos*8 - int(r.nbits) }

// overrun reports whether bits past the end of src were consumed.
func (r *bitReader) overrun() bool { return r.consumed() > len(r.src)&^1*8 }

// decode reads one symbol of table t; the caller has refilled. It returns
// -1 for a bit sequence no codeword has.
func (r *bitReader) decode(t *huffTable) int {
	e := t.entries[r.buf>>(64-t.primaryBits)]
	if e&subFlag != 0 {
		e = t.entries[(e&^subFlag)+uint32((r.buf<<t.primaryBits)>>(64-t.subBits))]
	}
	l := uint(e & 31)
	if l == 0 {
		return -1
	}
	r.skip(l)
	return int(e >> 8 & 0xffff)
}
