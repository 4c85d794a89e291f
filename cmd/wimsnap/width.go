package main

import (
	"sort"
	"unicode"
)

// colsOf is the number of terminal columns s takes: wide characters (CJK,
// Hangul, fullwidth forms, emoji: wideRanges) take two, combining marks and
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

// wideRanges are the characters of East Asian Width W or F (Unicode 14,
// unassigned code points between two such taken along), which terminals
// draw two columns wide: CJK, Hangul, fullwidth forms and the emoji that
// show as emoji by default; in order.
var wideRanges = []struct{ lo, hi rune }{
	{0x1100, 0x115F}, {0x231A, 0x231B}, {0x2329, 0x232A}, {0x23E9, 0x23EC}, {0x23F0, 0x23F0},
	{0x23F3, 0x23F3}, {0x25FD, 0x25FE}, {0x2614, 0x2615}, {0x2648, 0x2653}, {0x267F, 0x267F},
	{0x2693, 0x2693}, {0x26A1, 0x26A1}, {0x26AA, 0x26AB}, {0x26BD, 0x26BE}, {0x26C4, 0x26C5},
	{0x26CE, 0x26CE}, {0x26D4, 0x26D4}, {0x26EA, 0x26EA}, {0x26F2, 0x26F3}, {0x26F5, 0x26F5},
	{0x26FA, 0x26FA}, {0x26FD, 0x26FD}, {0x2705, 0x2705}, {0x270A, 0x270B}, {0x2728, 0x2728},
	{0x274C, 0x274C}, {0x274E, 0x274E}, {0x2753, 0x2755}, {0x2757, 0x2757}, {0x2795, 0x2797},
	{0x27B0, 0x27B0}, {0x27BF, 0x27BF}, {0x2B1B, 0x2B1C}, {0x2B50, 0x2B50}, {0x2B55, 0x2B55},
	{0x2E80, 0x303E}, {0x3041, 0x3247}, {0x3250, 0x4DBF}, {0x4E00, 0xA4C6}, {0xA960, 0xA97C},
	{0xAC00, 0xD7A3}, {0xF900, 0xFAD9}, {0xFE10, 0xFE19}, {0xFE30, 0xFE6B}, {0xFF01, 0xFF60},
	{0xFFE0, 0xFFE6}, {0x16FE0, 0x1B2FB}, {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E},
	{0x1F191, 0x1F19A}, {0x1F200, 0x1F320}, {0x1F32D, 0x1F335}, {0x1F337, 0x1F37C},
	{0x1F37E, 0x1F393}, {0x1F3A0, 0x1F3CA}, {0x1F3CF, 0x1F3D3}, {0x1F3E0, 0x1F3F0},
	{0x1F3F4, 0x1F3F4}, {0x1F3F8, 0x1F43E}, {0x1F440, 0x1F440}, {0x1F442, 0x1F4FC},
	{0x1F4FF, 0x1F53D}, {0x1F54B, 0x1F54E}, {0x1F550, 0x1F567}, {0x1F57A, 0x1F57A},
	{0x1F595, 0x1F596}, {0x1F5A4, 0x1F5A4}, {0x1F5FB, 0x1F64F}, {0x1F680, 0x1F6C5},
	{0x1F6CC, 0x1F6CC}, {0x1F6D0, 0x1F6D2}, {0x1F6D5, 0x1F6DF}, {0x1F6EB, 0x1F6EC},
	{0x1F6F4, 0x1F6FC}, {0x1F7E0, 0x1F7F0}, {0x1F90C, 0x1F93A}, {0x1F93C, 0x1F945},
	{0x1F947, 0x1F9FF}, {0x1FA70, 0x1FAF6}, {0x20000, 0x3FFFD},
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

// tailCols returns the longest end of s that takes at most n columns and
// does not start with a combining mark (cut from its letter, it would sit
// on what comes before).
func tailCols(s string, n int) string {
	r := []rune(s)
	used := 0
	for i := len(r) - 1; i >= 0; i-- {
		if used += runeCols(r[i]); used > n {
			i++
			for i < len(r) && runeCols(r[i]) == 0 {
				i++
			}
			return string(r[i:])
		}
	}
	return s
}
