package lzx

import "encoding/binary"

// bitReader reads the LZX bit stream: 16-bit little-endian words, each from
// its most significant bit. load copies the chunk with the bytes of each
// word swapped, which makes the stream a plain big-endian one that refill
// reads 8 bytes at a time, a whole number of bytes per refill and without
// a branch; the copy ends in zeros, so words past the end of src read as
// zero. overrun reports whether any bit past the chunk's last whole word
// was consumed, which makes the stream corrupt.
type bitReader struct {
	src   []byte // the chunk as stored
	sw    []byte // its whole words, bytes swapped, then padWords zero bytes
	pos   int    // next byte of sw to load
	buf   uint64 // unconsumed bits, MSB-aligned; below them, the next bits of the stream
	nbits uint   // number of unconsumed bits in buf
}

// swapPad is the zero bytes after the chunk's words in sw: enough for an
// 8-byte load at any position a stream that has not overrun can reach,
// and at the position refill stops at once it has.
const swapPad = 16

// load makes src the chunk to read and starts reading it at byte 0.
func (r *bitReader) load(src []byte) {
	n := len(src) &^ 1
	if cap(r.sw) < n+swapPad {
		r.sw = make([]byte, n+swapPad)
	}
	sw := r.sw[:n+swapPad]
	i := 0
	for ; i+8 <= n; i += 8 {
		v := binary.LittleEndian.Uint64(src[i:])
		binary.LittleEndian.PutUint64(sw[i:], v>>8&0x00ff00ff00ff00ff|v&0x00ff00ff00ff00ff<<8)
	}
	for ; i < n; i += 2 {
		sw[i], sw[i+1] = src[i+1], src[i]
	}
	clear(sw[n:])
	r.src, r.sw = src, sw
	r.seek(0)
}

// seek restarts reading at byte pos of the chunk, an even position.
func (r *bitReader) seek(pos int) {
	r.pos, r.buf, r.nbits = min(pos, len(r.sw)-8), 0, 0
}

// refill loads bits until at least 56 are held.
func (r *bitReader) refill() {
	r.buf, r.nbits, r.pos = refill(r.sw, r.pos, r.buf, r.nbits)
}

// refill is bitReader.refill on its fields, for loops that keep them in
// locals. It loads the 8 bytes at pos below the nbits held and counts the
// whole bytes of them that fit; the bits of the partial byte after them
// are the stream's next ones, so the next load writes them again as they
// are. Past the chunk's words it stops at the last position an 8-byte load
// may start at, where only zeros follow.
func refill(sw []byte, pos int, buf uint64, nbits uint) (uint64, uint, int) {
	buf |= binary.BigEndian.Uint64(sw[pos:]) >> nbits
	return buf, nbits | 56, min(pos+int(63-nbits)>>3, len(sw)-8)
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
