package xpress

// bitWriter writes the XPRESS bit stream into a buffer sized in advance.
//
// Bits are accumulated MSB-first. Two 16-bit slots are always reserved ahead
// of the append position; a completed group of 16 bits goes into the older
// slot only once a 17th bit is pending, and then a new slot is reserved at the
// end. Raw length bytes are appended at the end. This mirrors the reference
// decoder, which keeps 16 to 32 bits loaded, so raw bytes land where it looks
// for them. Flushing may be deferred while no raw byte is written, since
// reserving slots back to back gives the same layout. [Encoder.emit] runs
// the same scheme in local variables; finish ends its stream too.
type bitWriter struct {
	out          []byte
	acc          uint64 // pending bits, right-aligned
	n            uint   // number of pending bits
	slot0, slot1 int    // reserved word positions, older first
	pos          int    // append position
}

func (w *bitWriter) init(out []byte) {
	*w = bitWriter{out: out, slot1: 2, pos: 4}
}

// put adds the low n bits of v. The caller flushes before more than 64 bits
// are pending.
func (w *bitWriter) put(v uint32, n uint) {
	w.acc = w.acc<<n | uint64(v)
	w.n += n
}

// flush writes out complete 16-bit groups while a 17th bit is pending.
func (w *bitWriter) flush() {
	for w.n > 16 {
		w.n -= 16
		word := uint16(w.acc >> w.n)
		w.out[w.slot0] = byte(word)
		w.out[w.slot0+1] = byte(word >> 8)
		w.slot0, w.slot1 = w.slot1, w.pos
		w.pos += 2
	}
}

// raw appends a raw byte. Pending bits must have been flushed.
func (w *bitWriter) raw(b byte) {
	w.out[w.pos] = b
	w.pos++
}

// finish writes the pending bits (1 to 16 after a flush) left-aligned into
// the older slot and zero into the newer one, and returns the stream length.
func (w *bitWriter) finish() int {
	w.flush()
	word := uint16(w.acc << (16 - w.n))
	w.out[w.slot0] = byte(word)
	w.out[w.slot0+1] = byte(word >> 8)
	w.out[w.slot1] = 0
	w.out[w.slot1+1] = 0
	return w.pos
}

// streamSize is the length of the stream bitWriter produces for nbits bits
// (at least 1) and nraw raw bytes: every 16-bit group, plus the one reserved
// slot that is still ahead at the end.
func streamSize(nbits, nraw int) int {
	return 2*((nbits+15)/16+1) + nraw
}
