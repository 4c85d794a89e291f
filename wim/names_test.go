package wim

import (
	"slices"
	"strings"
	"testing"
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
