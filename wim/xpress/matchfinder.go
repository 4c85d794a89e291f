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

func hash4(v uint32) uint32 { return (v * 0x9E3779B1) >> (32 - hash4Bits) }
func hash3(v uint32) uint32 { return ((v << 8) * 0x9E3779B1) >> (32 - hash3Bits) }

// insert adds position p (p+4 <= len(src)) to the tables.
func (m *matchFinder) insert(src []byte, p int) {
	v := binary.LittleEndian.Uint32(src[p:])
	h := hash4(v)
	m.prev[uint16(p)] = m.head4[h]
	m.head4[h] = uint16(p + 1)
	m.head3[hash3(v)] = uint16(p + 1)
}

// matchLen returns the length of the common prefix of a and b, at most max
// (len(a), len(b) >= max).
func matchLen(a, b []byte, max int) int {
	n := 0
	for n+8 <= max {
		x := binary.LittleEndian.Uint64(a[n:]) ^ binary.LittleEndian.Uint64(b[n:])
		if x != 0 {
			return n + bits.TrailingZeros64(x)>>3
		}
		n += 8
	}
	for n < max && a[n] == b[n] {
		n++
	}
	return n
}
