package miniotest

import (
	"strings"
	"testing"
)

func TestTail(t *testing.T) {
	const marker = "[earlier output dropped]\n"
	tests := []struct {
		name   string
		writes []int // sizes of the writes, each of a new letter
		want   int   // bytes kept
		marked bool
	}{
		{"empty", nil, 0, false},
		{"small", []int{10, 20}, 30, false},
		{"exactly the limit", []int{tailLimit}, tailLimit, false},
		{"over the limit", []int{tailLimit, 1}, tailLimit, true},
		{"trimmed", []int{tailLimit, tailLimit, 5}, tailLimit, true},
		{"one huge write", []int{3 * tailLimit}, tailLimit, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b tail
			var all strings.Builder
			for i, n := range tt.writes {
				p := strings.Repeat(string(rune('a'+i)), n)
				all.WriteString(p)
				if got, err := b.Write([]byte(p)); got != n || err != nil {
					t.Fatalf("Write = %d, %v; want %d, nil", got, err, n)
				}
			}
			got := b.String()
			kept, marked := strings.CutPrefix(got, marker)
			if marked != tt.marked || len(kept) != tt.want || !strings.HasSuffix(all.String(), kept) {
				t.Fatalf("String() = %d bytes, marked %v; want the last %d bytes, marked %v",
					len(kept), marked, tt.want, tt.marked)
			}
		})
	}
}
