package main

import (
	"sort"
	"unicode"
)

// colsOf is the number of terminal columns s takes: wide characters (CJK,
// Hangul, fullwidth forms, most emoji) take two, combining marks and
// format characters (zero-width spaces and joiners) none, others one.
// Counting runes instead made a status line of Japanese names wrap at 80
// columns (99 wide), and the next redraw cleared only its second row.
func colsOf(s string) int {
	n := 0
	for _, r := range s {
		n += runeCols(r)
	}
	return n
}

// runeCols is the number of terminal columns r takes (see colsOf).
func runeCols(r rune) int {
	switch {
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		return 0
	case wideRune(r):
		return 2
	}
	return 1
}

// wideRanges are the East Asian Wide and Fullwidth blocks, and the emoji
// blocks terminals draw two columns wide, in order.
var wideRanges = []struct{ lo, hi rune }{
	{0x1100, 0x115F}, {0x231A, 0x231B}, {0x2329, 0x232A}, {0x23E9, 0x23EC}, {0x2E80, 0x303E},
	{0x3041, 0x33FF}, {0x3400, 0x4DBF}, {0x4E00, 0x9FFF}, {0xA000, 0xA4CF}, {0xA960, 0xA97F},
	{0xAC00, 0xD7A3}, {0xF900, 0xFAFF}, {0xFE10, 0xFE19}, {0xFE30, 0xFE6F}, {0xFF00, 0xFF60},
	{0xFFE0, 0xFFE6}, {0x16FE0, 0x18CFF}, {0x1B000, 0x1B2FF}, {0x1F300, 0x1F64F}, {0x1F680, 0x1F6FF},
	{0x1F900, 0x1F9FF}, {0x1FA70, 0x1FAFF}, {0x20000, 0x3FFFD},
}

func wideRune(r rune) bool {
	i := sort.Search(len(wideRanges), func(i int) bool { return wideRanges[i].hi >= r })
	return i < len(wideRanges) && r >= wideRanges[i].lo
}

// headCols returns the longest start of s that takes at most n columns.
func headCols(s string, n int) string {
	used := 0
	for i, r := range s {
		if used += runeCols(r); used > n {
			return s[:i]
		}
	}
	return s
}

// tailCols returns the longest end of s that takes at most n columns.
func tailCols(s string, n int) string {
	r := []rune(s)
	used := 0
	for i := len(r) - 1; i >= 0; i-- {
		if used += runeCols(r[i]); used > n {
			return string(r[i+1:])
		}
	}
	return s
}
