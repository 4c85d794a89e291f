package lzx

import "math"

// costs estimates the coded size, in 1/16 bits, of literals and match
// symbols; parse uses it to weigh matches against literals.
type costs struct {
	lit  [numChars]uint32
	main [maxMainSyms]uint32 // match headers, indexed by main symbol
	len  [numLenSyms]uint32
}

// fromHist sets the costs for a chunk's first parse, before any code is
// known: a literal's from its frequency among the n window bytes, halfway
// to the even share of the byte values used (matched bytes make the coded
// literals more evenly spread than the whole chunk), and a bit more than
// the longest code for an absent byte; match headers and lengths from
// learnedMain and learnedLen.
func (c *costs) fromHist(e *Encoder, n int) {
	hist := byteHist(e.win[:n])
	used := 0
	for _, f := range hist {
		if f != 0 {
			used++
		}
	}
	for i, f := range hist {
		c.lit[i] = (maxCodeLen + 1) * 16
		if f != 0 {
			c.lit[i] = bitCost(0.5 * (float64(f)/float64(n) + 1/float64(used)))
		}
	}
	for i := numChars; i < e.numMain; i++ {
		slot := min((i-numChars)/numLenHeaders, len(learnedMain)-1)
		c.main[i] = uint32(learnedMain[slot][(i-numChars)%numLenHeaders])
	}
	for i, l := range learnedLen {
		c.len[i] = uint32(l)
	}
}

// byteHist returns the number of each byte value in w. It counts into four
// tables in turn, so that a run of one byte does not wait on its own
// increments.
func byteHist(w []byte) [numChars]uint32 {
	var h [4][numChars]uint32
	for ; len(w) >= 4; w = w[4:] {
		h[0][w[0]]++
		h[1][w[1]]++
		h[2][w[2]]++
		h[3][w[3]]++
	}
	for _, b := range w {
		h[0][b]++
	}
	for i := range h[0] {
		h[0][i] += h[1][i] + h[2][i] + h[3][i]
	}
	return h[0]
}

// bitCost returns the cost in 1/16 bits of a symbol of probability p, at
// least one bit, as a Huffman code spends.
func bitCost(p float64) uint32 { return uint32(max(16, -16*math.Log2(p))) }

// fromLens sets the costs to the code lengths of e's codes; an unused
// symbol costs a little more than the longest code.
func (c *costs) fromLens(e *Encoder) {
	set := func(dst []uint32, lens []uint8) {
		for i, l := range lens {
			if l == 0 {
				l = maxCodeLen + 1
			}
			dst[i] = uint32(l) * 16
		}
	}
	set(c.lit[:], e.mainLens[:numChars])
	set(c.main[:e.numMain], e.mainLens[:e.numMain])
	set(c.len[:], e.lenLens[:])
}

// learnedMain and learnedLen are the mean code lengths, in 1/16 bits and
// weighted by use, of match headers (by position slot, then length header)
// and length symbols, as wimsnap's former near-optimal parser coded every
// third 32 KiB chunk of a Debian minbase tree; 256 (16 bits) marks symbols
// it used too rarely to measure, like explicit offsets of 2 bytes, which
// the parser never makes. Slots past the table's take its last row.
var learnedMain = [30][numLenHeaders]uint16{
	{87, 62, 86, 95, 102, 56, 133, 83},
	{133, 98, 90, 135, 141, 125, 150, 113},
	{143, 116, 149, 164, 155, 138, 158, 130},
	{256, 174, 172, 172, 175, 168, 162, 137},
	{256, 172, 191, 185, 256, 256, 256, 154},
	{256, 148, 172, 176, 184, 168, 194, 168},
	{256, 133, 155, 163, 171, 156, 159, 176},
	{256, 139, 154, 161, 170, 170, 167, 163},
	{256, 129, 143, 154, 161, 151, 165, 137},
	{256, 133, 148, 157, 159, 157, 166, 133},
	{256, 124, 136, 145, 149, 152, 160, 117},
	{256, 130, 141, 152, 153, 158, 164, 120},
	{256, 121, 130, 138, 145, 156, 158, 117},
	{256, 132, 136, 149, 151, 164, 164, 131},
	{256, 124, 127, 142, 143, 157, 159, 125},
	{256, 129, 133, 147, 148, 163, 166, 132},
	{256, 122, 124, 140, 137, 157, 151, 129},
	{256, 127, 129, 146, 145, 157, 154, 135},
	{256, 112, 120, 138, 136, 154, 153, 96},
	{256, 123, 124, 144, 142, 159, 154, 115},
	{256, 112, 116, 135, 136, 150, 146, 117},
	{256, 121, 127, 143, 143, 155, 155, 125},
	{256, 113, 126, 134, 138, 147, 150, 117},
	{256, 119, 135, 143, 147, 153, 155, 126},
	{256, 115, 128, 138, 139, 146, 150, 119},
	{256, 131, 136, 147, 150, 154, 155, 127},
	{256, 137, 132, 144, 146, 152, 153, 122},
	{256, 153, 140, 157, 157, 160, 162, 133},
	{256, 161, 144, 160, 162, 164, 164, 135},
	{256, 185, 178, 182, 185, 184, 182, 163},
}

var learnedLen = [numLenSyms]uint16{
	45, 49, 44, 62, 65, 65, 53, 75, 72, 75, 75, 82, 82, 79, 76, 90,
	93, 92, 94, 97, 98, 97, 89, 99, 104, 102, 105, 108, 91, 111, 106, 101,
	108, 109, 111, 100, 109, 107, 109, 112, 110, 115, 117, 111, 118, 112, 112, 111,
	117, 117, 115, 116, 119, 123, 127, 116, 120, 118, 118, 122, 119, 121, 125, 126,
	125, 121, 127, 128, 131, 131, 128, 128, 126, 122, 125, 130, 129, 126, 122, 125,
	130, 125, 127, 126, 128, 122, 122, 129, 131, 134, 131, 121, 126, 132, 129, 133,
	131, 131, 134, 136, 123, 133, 129, 130, 133, 131, 135, 131, 131, 132, 131, 138,
	141, 137, 130, 125, 133, 130, 130, 126, 134, 138, 127, 128, 123, 109, 127, 137,
	113, 127, 130, 134, 138, 138, 133, 135, 136, 126, 137, 132, 131, 130, 254, 254,
	131, 254, 254, 254, 254, 254, 133, 254, 254, 254, 254, 254, 254, 254, 254, 254,
	254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254,
	254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254,
	254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254,
	254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254,
	254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254,
	254, 254, 254, 254, 254, 254, 254, 254, 68,
}
