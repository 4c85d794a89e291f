package wim

import (
	"slices"
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
