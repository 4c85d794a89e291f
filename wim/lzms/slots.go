package lzms

// A slot stands for a range of offsets or lengths: a base value and a number
// of extra bits read after the slot's symbol, the value being base + those
// bits. Bases are consecutive: each slot starts where the previous one's range
// ends, the first at 1.

// slotRun is a run of consecutive slots with the same number of extra bits.
type slotRun struct {
	extra uint8
	count int
}

// offsetRuns describe the 799 offset slots (of LZ offsets and of delta raw
// offsets); the last slot ends at 1180427428, the largest offset.
var offsetRuns = []slotRun{
	{0, 8}, {2, 9}, {3, 7}, {4, 10}, {5, 15}, {6, 15}, {7, 20}, {8, 20},
	{9, 30}, {10, 33}, {11, 40}, {12, 42}, {13, 45}, {14, 60}, {15, 73},
	{16, 80}, {17, 85}, {18, 95}, {19, 105}, {20, 6}, {30, 1},
}

// lengthRuns describe the 54 length slots; the last ends at 1073809578, the
// longest match.
var lengthRuns = []slotRun{
	{0, 26}, {1, 4}, {2, 6}, {3, 4}, {4, 5}, {5, 2},
	{6, 1}, {7, 1}, {8, 1}, {9, 1}, {10, 1}, {16, 1}, {30, 1},
}

// slotInfo packs a slot's base (bits 0-31) and extra bit count (bits 32-39).
type slotInfo uint64

func (s slotInfo) base() uint32  { return uint32(s) }
func (s slotInfo) extra() uint32 { return uint32(s >> 32) }

var (
	offsetSlots = expandRuns(offsetRuns)
	lengthSlots = expandRuns(lengthRuns)
)

// expandRuns lists the slots the runs describe, in an array sized to a power
// of two (1024) so that a masked symbol index needs no bounds check.
func expandRuns(runs []slotRun) *[1024]slotInfo {
	var t [1024]slotInfo
	base, s := uint64(1), 0
	for _, r := range runs {
		for range r.count {
			t[s] = slotInfo(base | uint64(r.extra)<<32)
			base += 1 << r.extra
			s++
		}
	}
	return &t
}

// numOffsetSlots returns how many offset slots (and offset symbols) a chunk
// of size bytes uses: enough for every offset below size.
func numOffsetSlots(size int) int {
	if size < 2 {
		return 0
	}
	largest := uint32(size - 1)
	n := 0
	for n < maxOffsetSyms && offsetSlots[n].base() <= largest {
		n++
	}
	return n
}
