package xpress

import (
	"encoding/binary"
	"math/bits"
)

const (
	hash4Bits = 15
	hash3Bits = 12
)

// matchFinder holds the match-finding tables for one chunk; the search
// itself is inlined in [Encoder.parse].
//
// Positions are stored plus one, so 0 means "none". head4 maps a hash of the
// 4 bytes at a position to the latest position with that hash, and prev links
// each position to the previous one with the same hash, forming the chains
// that are searched for matches of 4 bytes or more. head3 remembers only the
// latest position for a hash of 3 bytes; it supplies matches of exactly 3
// bytes, which pay off only at short offsets. Matches never reach outside the
// current chunk; reset clears the heads (prev entries are always written
// before they are read).
type matchFinder struct {
	head4 [1 << hash4Bits]uint16
	head3 [1 << hash3Bits]uint16
	prev  [MaxChunkSize]uint16
}

func (m *matchFinder) reset() {
	m.head4 = [1 << hash4Bits]uint16{}
	m.head3 = [1 << hash3Bits]uint16{}
}

// window holds a copy of the chunk being encoded, padded so that a 4-byte
// load at any 16-bit position stays inside it.
type window [MaxChunkSize + 8]byte

// load32 returns the 4 bytes at i, little-endian.
func (w *window) load32(i uint16) uint32 { return binary.LittleEndian.Uint32(w[i:]) }

func hash4(v uint32) uint32 { return (v * 0x9E3779B1) >> (32 - hash4Bits) }
func hash3(v uint32) uint32 { return ((v << 8) * 0x9E3779B1) >> (32 - hash3Bits) }

// insert adds position p, where the 4 bytes v start, to the tables.
func (m *matchFinder) insert(v uint32, p int) {
	m.insert4(v, p)
	m.head3[hash3(v)] = uint16(p + 1)
}

// insert4 adds position p, where the 4 bytes v start, to the 4-byte chains
// only.
func (m *matchFinder) insert4(v uint32, p int) {
	h := hash4(v)
	m.prev[uint16(p)] = m.head4[h]
	m.head4[h] = uint16(p + 1)
}

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
