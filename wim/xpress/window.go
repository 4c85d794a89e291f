package xpress

import (
	"encoding/binary"
	"math/bits"
)

// hash3Bits is the size of the 3-byte table of [Encoder.parseFast].
const hash3Bits = 12

// window holds a copy of the chunk being encoded, padded so that a 4-byte
// load at any 16-bit position stays inside it. The parses and emit index it
// with 16-bit positions, which need no bounds checks.
type window [MaxChunkSize + 8]byte

// load32 returns the 4 bytes at i, little-endian.
func (w *window) load32(i uint16) uint32 { return binary.LittleEndian.Uint32(w[i:]) }

// hash3 hashes the low 3 bytes of v: ((v<<8) * 0x9E3779B1) >> (32-hash3Bits),
// with the shift folded into the multiplier.
func hash3(v uint32) uint32 { return (v * 0x3779B100) >> (32 - hash3Bits) }

// matchLen returns the length of the common prefix of the bytes at a and b,
// at most max (a, b < b+max <= MaxChunkSize). Bytes past the chunk's end may
// be compared but never counted.
func (w *window) matchLen(a, b, max int) int {
	n := 0
	for n < max {
		x := binary.LittleEndian.Uint64(w[uint16(a+n):]) ^ binary.LittleEndian.Uint64(w[uint16(b+n):])
		if x != 0 {
			return min(n+bits.TrailingZeros64(x)>>3, max)
		}
		n += 8
	}
	return max
}
