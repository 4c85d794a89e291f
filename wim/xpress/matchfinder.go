package xpress

import (
	"encoding/binary"
	"math/bits"
)

const (
	hash4Bits = 15
	hash3Bits = 12
)

// matchFinder finds LZ77 matches within one chunk.
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
	h4 := hash4(v)
	m.prev[p] = m.head4[h4]
	m.head4[h4] = uint16(p + 1)
	m.head3[hash3(v)] = uint16(p + 1)
}

// find inserts position p (p+4 <= len(src)) and returns the longest match
// for it among at most depth chain entries, stopping early at one of nice
// bytes or more. A 3-byte match is returned only if its offset is at most
// far3. It returns length 0 if there is no match.
func (m *matchFinder) find(src []byte, p, depth, nice, far3 int) (length, offset int) {
	cur := src[p:]
	v := binary.LittleEndian.Uint32(cur)
	h4, h3 := hash4(v), hash3(v)
	c := int(m.head4[h4])
	m.prev[p] = uint16(c)
	m.head4[h4] = uint16(p + 1)
	c3 := int(m.head3[h3])
	m.head3[h3] = uint16(p + 1)

	maxLen := len(cur)
	nice = min(nice, maxLen)
	best := 3 // chain matches must beat a 3-byte match
	for ; c != 0 && depth > 0; depth-- {
		cp := c - 1
		c = int(m.prev[cp])
		// Reject first on the 4 bytes ending where a longer match would.
		if binary.LittleEndian.Uint32(src[cp+best-3:]) != binary.LittleEndian.Uint32(cur[best-3:]) ||
			binary.LittleEndian.Uint32(src[cp:]) != v {
			continue
		}
		l := 4 + matchLen(src[cp+4:], cur[4:], maxLen-4)
		if l > best {
			best, offset = l, p-cp
			if l >= nice {
				break
			}
		}
	}
	if offset != 0 {
		return best, offset
	}
	if c3 != 0 && p-(c3-1) <= far3 && (binary.LittleEndian.Uint32(src[c3-1:])^v)&0xFFFFFF == 0 {
		return 3, p - (c3 - 1)
	}
	return 0, 0
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
