package wim

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// TestCompareNames checks the sibling order wimlib writes (from the format
// reference: adsdir, emptyads.txt, file1.txt, file1_hl.txt, hidden.txt,
// LongFileName.txt) and the tie and escape rules.
func TestCompareNames(t *testing.T) {
	want := []string{"adsdir", "emptyads.txt", "file1.txt", "file1_hl.txt", "hidden.txt", "LongFileName.txt"}
	got := slices.Clone(want)
	slices.Reverse(got)
	slices.SortFunc(got, CompareNames)
	if !slices.Equal(got, want) {
		t.Errorf("sorted %q, want %q", got, want)
	}
	tests := []struct {
		a, b string
		want int
	}{
		{"a", "B", -1},
		{"B", "b", -1}, // equal folded: byte order breaks the tie
		{"b", "B", 1},
		{"ab", "a", 1},
		{"", "a", -1},
		{"é", "É", 1},
		{"z", "\xff", -1}, // an escaped byte sorts as U+DCFF, after ASCII
		{"\xff", "\xfe", 1},
		{"same", "same", 0},
	}
	for _, tt := range tests {
		if got := CompareNames(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareNames(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// FuzzCompareNames checks CompareNames's shortcut past a common prefix
// against the rune-by-rune comparison of the whole names.
func FuzzCompareNames(f *testing.F) {
	for _, s := range []string{"abc", "ABD", "ab\xc3\xa9", "ab\xc3\x89", "a\x80\x80b", "a\x80\x80B", "\xe2\x82\xac", ""} {
		f.Add(s, s+"x")
		f.Add(s, strings.ToUpper(s))
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		want := compareFold(a, b)
		if want == 0 {
			want = strings.Compare(a, b)
		}
		if got := CompareNames(a, b); got != want {
			t.Errorf("CompareNames(%q, %q) = %d, want %d", a, b, got, want)
		}
	})
}

// TestNameSurrogates: the WTF-8 form of a lone surrogate, which is how Go
// hands a Windows name that is not valid UTF-16 to a program, encodes as
// the surrogate itself, unless it is an escape or would pair with the next
// unit; and a Windows name read from a WIM encodes back to its units.
func TestNameSurrogates(t *testing.T) {
	tests := []struct {
		name string
		want []uint16
	}{
		{"a\xed\xa0\x80b", []uint16{'a', 0xD800, 'b'}},
		{"\xed\xaf\xbf", []uint16{0xDBFF}},
		{"\xed\xb0\x80", []uint16{0xDC00}},
		{"\xed\xbf\xbf.txt", []uint16{0xDFFF, '.', 't', 'x', 't'}},
		// U+DC80: the escape of byte 0x80, so its bytes are escaped.
		{"\xed\xb2\x80", []uint16{0xDCED, 0xDCB2, 0xDC80}},
		// A high surrogate before a low one or an escape would pair.
		{"\xed\xa0\x80\xed\xb0\x80", []uint16{0xDCED, 0xDCA0, 0xDC80, 0xDC00}},
		{"\xed\xa0\x80\xff", []uint16{0xDCED, 0xDCA0, 0xDC80, 0xDCFF}},
		{"\xed\xa0\x80\xed\xa0\x80\xff", []uint16{0xDCED, 0xDCA0, 0xDC80, 0xDCED, 0xDCA0, 0xDC80, 0xDCFF}},
		{"\xed\xa0\x80\xed\xa0\x81x", []uint16{0xD800, 0xD801, 'x'}},
	}
	for _, tt := range tests {
		got := encodeName(nil, tt.name)
		if !slices.Equal(got, tt.want) {
			t.Errorf("encodeName(%q) = %x, want %x", tt.name, got, tt.want)
		}
		if back := decodeName(got); back != tt.name {
			t.Errorf("%q came back as %q", tt.name, back)
		}
	}
	long := slices.Repeat([]uint16{0xD800}, maxHighRun+1)
	for _, units := range [][]uint16{{0xD800, 'x'}, {'a', 0xDBFF}, {0xDC00}, {0xDFFF, 0xD800}, {0xD83D, 0xDE00, 0xDC7F}, {0xD830, 0xD830}, long} {
		if got := encodeName(nil, decodeName(units)); !slices.Equal(got, units) {
			t.Errorf("units %x came back as %x", units, got)
		}
	}
	// Past the limit, the first highs of a run keep their bytes escaped.
	long = append(long, 0xD800)
	if got := encodeName(nil, decodeName(long)); got[0] != 0xDCED || !slices.Equal(got[3:], long[1:]) {
		t.Errorf("a run of %d high surrogates came back as %x", len(long), got)
	}
}

// FuzzNameFromWindows checks that a name of any 16-bit units, as Windows
// allows, survives decoding and encoding, unless it holds a lone escape
// surrogate (U+DC80-U+DCFF), which reads as the byte it escapes, or more
// than maxHighRun+1 lone high surrogates in a row.
func FuzzNameFromWindows(f *testing.F) {
	f.Add([]byte{0x00, 0xD8, 'x', 0})
	f.Add([]byte{0x3D, 0xD8, 0x00, 0xDE})
	f.Add([]byte{0x00, 0xDC, 0x00, 0xD8})
	f.Fuzz(func(t *testing.T, b []byte) {
		units := make([]uint16, len(b)/2)
		for i := range units {
			units[i] = binary.LittleEndian.Uint16(b[2*i:])
		}
		highs := 0 // lone high surrogates in a row
		for i := 0; i < len(units); i++ {
			switch u := rune(units[i]); {
			case utf16.IsSurrogate(u) && u < 0xDC00 && i+1 < len(units) && units[i+1] >= 0xDC00 && units[i+1] < 0xE000:
				i++ // a pair
				highs = 0
			case u >= 0xDC80 && u <= 0xDCFF:
				return
			case utf16.IsSurrogate(u) && u < 0xDC00:
				if highs++; highs > maxHighRun+1 {
					return
				}
			default:
				highs = 0
			}
		}
		if got := encodeName(nil, decodeName(units)); !slices.Equal(got, units) {
			t.Fatalf("units %x came back as %x", units, got)
		}
		if c := CompareNames(decodeName(units), decodeName(units)); c != 0 {
			t.Fatalf("a name does not compare equal to itself")
		}
	})
}
