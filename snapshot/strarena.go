package snapshot

import "unsafe"

// strArena copies byte strings into shared blocks, so that the paths a
// walk records cost one allocation per block rather than one each, and
// nothing for the garbage collector to scan.
type strArena struct {
	block []byte
}

const strArenaBlock = 1 << 20

// str returns a string holding a copy of b. It stays valid as long as the
// arena's blocks are referenced, which the string itself ensures.
func (a *strArena) str(b []byte) string {
	if len(b) > cap(a.block)-len(a.block) {
		a.block = make([]byte, 0, max(strArenaBlock, len(b)))
	}
	start := len(a.block)
	a.block = append(a.block, b...)
	return unsafe.String(unsafe.SliceData(a.block[start:]), len(b))
}
