package xpress

import (
	"encoding/binary"
	"math/bits"
)

const (
	hashBits = 15
	hashSize = 1 << hashBits
)

// matchFinder finds LZ77 matches with hash chains over one chunk.
//
// head maps the hash of 3 bytes to the latest position with that hash, stored
// as base+position; entries below base are from earlier chunks and count as
// empty, so starting a chunk costs nothing but advancing base. prev holds,
// for each position, the distance back to the previous position on its chain
// (0: none). Matches never reach outside the current chunk.
type matchFinder struct {
	head [hashSize]uint32
	prev [MaxChunkSize]uint16
	base uint32
}

// reset prepares for a new chunk.
func (m *matchFinder) reset() {
	if m.base > ^uint32(0)-2*MaxChunkSize {
		m.head = [hashSize]uint32{}
		m.base = 0
	}
	m.base += MaxChunkSize
}

func hash3(src []byte, p int) uint32 {
	v := uint32(src[p]) | uint32(src[p+1])<<8 | uint32(src[p+2])<<16
	return (v * 0x9E3779B1) >> (32 - hashBits)
}

// insert adds position p (p+3 <= len(src)) to its chain.
func (m *matchFinder) insert(src []byte, p int) {
	h := hash3(src, p)
	cand := m.head[h]
	m.head[h] = m.base + uint32(p)
	d := uint16(0)
	if cand >= m.base {
		d = uint16(p - int(cand-m.base))
	}
	m.prev[p] = d
}

// find inserts position p (p+3 <= len(src)) and returns the longest match
// for it among at most depth chain entries, stopping early at one of length
// nice or more. It returns length 0 if no match of minMatch bytes exists.
func (m *matchFinder) find(src []byte, p, depth, nice int) (length, offset int) {
	h := hash3(src, p)
	cand := m.head[h]
	m.head[h] = m.base + uint32(p)
	if cand < m.base {
		m.prev[p] = 0
		return 0, 0
	}
	c := int(cand - m.base)
	m.prev[p] = uint16(p - c)

	maxLen := len(src) - p
	nice = min(nice, maxLen)
	cur := src[p:]
	best := minMatch - 1
	for {
		// Reject on the byte that would make the match longer first.
		if src[c+best] == cur[best] && src[c] == cur[0] && src[c+1] == cur[1] {
			l := matchLen(src[c:], cur, maxLen)
			if l > best {
				best, offset = l, p-c
				if l >= nice {
					break
				}
			}
		}
		depth--
		d := int(m.prev[c])
		if d == 0 || depth == 0 {
			break
		}
		c -= d
	}
	if best < minMatch {
		return 0, 0
	}
	return best, offset
}

// matchLen returns the length of the common prefix of a and b, at most max
// (len(b) >= max, len(a) >= max).
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
