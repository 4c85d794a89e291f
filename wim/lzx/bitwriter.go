package lzx

// bitWriter appends the LZX bit stream to out: 16-bit little-endian words,
// each filled from its most significant bit.
type bitWriter struct {
	out []byte
	acc uint64 // pending bits, right-aligned
	n   uint   // number of pending bits, below 16 between calls
}

// put appends the low n bits of v, n <= 32.
func (w *bitWriter) put(v uint32, n uint) {
	w.acc = w.acc<<n | uint64(v)
	w.n += n
	for w.n >= 16 {
		w.n -= 16
		word := uint16(w.acc >> w.n)
		w.out = append(w.out, byte(word), byte(word>>8))
	}
}

// flush pads the last word with zero bits.
func (w *bitWriter) flush() {
	if w.n > 0 {
		w.put(0, 16-w.n)
	}
}
