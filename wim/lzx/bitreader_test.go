package lzx

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// naiveBits returns bit i of the LZX stream in src: 16-bit little-endian
// words, each from its most significant bit; words past the last whole
// one read as zero.
func naiveBits(src []byte, i int) uint32 {
	w := i / 16
	if 2*w+2 > len(src) {
		return 0
	}
	v := binary.LittleEndian.Uint16(src[2*w:])
	return uint32(v>>(15-i%16)) & 1
}

// TestBitReader: reads of 1 to 32 bits, seeks to even positions, and reads
// past the end give the bits a word-by-word reader gives, with consumed
// and overrun exact, for chunks of even and odd length.
func TestBitReader(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var r bitReader
	for _, n := range []int{0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 100, 1001, 4096} {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(rng.Uint32())
		}
		r.load(src)
		pos := 0 // in bits
		for pos < 8*n+200 {
			if rng.IntN(20) == 0 {
				p := 2 * rng.IntN(n/2+1)
				r.seek(p)
				pos = 8 * p
			}
			k := uint(1 + rng.IntN(32))
			r.refill()
			if r.nbits < 56 {
				t.Fatalf("len %d: %d bits held after refill, want 56 or more", n, r.nbits)
			}
			got := r.read(k)
			var want uint32
			for i := range int(k) {
				want = want<<1 | naiveBits(src, pos+i)
			}
			if got != want {
				t.Fatalf("len %d: %d bits at bit %d: %#x, want %#x", n, k, pos, got, want)
			}
			pos += int(k)
			if r.consumed() != pos && pos <= 8*(n&^1) {
				t.Fatalf("len %d: consumed %d, want %d", n, r.consumed(), pos)
			}
			if r.overrun() != (pos > 8*(n&^1)) {
				t.Fatalf("len %d: at bit %d overrun is %v", n, pos, r.overrun())
			}
		}
	}
}
