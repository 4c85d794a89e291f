package snapshot

import (
	"math/bits"
	"math/rand/v2"
)

// posIndex finds the elements of a list that its caller keeps (idSet's
// chunk ids, repoSink's new streams) by a key the elements hold, in 4-byte
// slots of which at most three quarters are used: 5 to 11 bytes an
// element. The Go maps it replaced took 37 bytes an element (idSet's,
// keyed by 8 bytes of an id) and 64 (repoSink's, keyed by a SHA-1): for a
// first snapshot of /usr, 10.7 and 7.8 MB of a heap profile, against
// about 3 MB of slots. The keys are hashes, and the caller gives their
// first 8 bytes as h; a seed drawn for each index and a multiplication
// spread them over the slots, so that keys chosen to share their low bits
// (files crafted to make a backup slow) do not crowd together. The zero
// value is an empty index. Positions are below 2^31. Not safe for
// concurrent use.
type posIndex struct {
	slots []int32 // position + 1; 0: empty
	n     int     // positions held
	shift uint    // 64 - log2(len(slots))
	seed  uint64
}

// spread is an odd constant (2^64 over the golden ratio) whose product
// with a key's bits, taken from the top, picks its first slot.
const spread = 0x9E3779B97F4A7C15

// get returns the position of the element with hash h that same accepts,
// or -1 when there is none.
func (x *posIndex) get(h uint64, same func(pos int32) bool) int32 {
	if x.n == 0 {
		return -1
	}
	mask := len(x.slots) - 1
	for i := x.first(h); ; i = (i + 1) & mask {
		v := x.slots[i]
		if v == 0 {
			return -1
		}
		if same(v - 1) {
			return v - 1
		}
	}
}

// put adds pos, the position of an element with hash h that get does not
// find; hashAt returns the hash of the element at a position, for moving
// the positions held when the slots grow.
func (x *posIndex) put(h uint64, pos int32, hashAt func(pos int32) uint64) {
	if 4*(x.n+1) > 3*len(x.slots) {
		x.grow(hashAt)
	}
	x.place(h, pos)
	x.n++
}

// first returns the slot where the probe for h starts.
func (x *posIndex) first(h uint64) int { return int(((h ^ x.seed) * spread) >> x.shift) }

// place puts pos in the first free slot from h's.
func (x *posIndex) place(h uint64, pos int32) {
	mask := len(x.slots) - 1
	i := x.first(h)
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = pos + 1
}

// grow doubles the slots (1024 to start with) and places the positions
// held again.
func (x *posIndex) grow(hashAt func(pos int32) uint64) {
	old := x.slots
	if old == nil {
		x.seed = rand.Uint64()
	}
	size := max(2*len(old), 1024)
	x.slots = make([]int32, size)
	x.shift = uint(64 - bits.Len(uint(size-1)))
	for _, v := range old {
		if v != 0 {
			x.place(hashAt(v-1), v-1)
		}
	}
}
