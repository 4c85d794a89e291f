package main

import "testing"

func TestPercentFor(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 200},          // before the first collection: 8 MB over a 4 MB floor
		{1 * mb, 200},     // a small heap counts as 4 MB
		{5 * mb, 160},     // 8 MB of slack on a 5 MB heap
		{20 * mb, 40},     // still the slack
		{80 * mb / 3, 30}, // 8 MB is 30%: the two agree
		{100 * mb, 30},    // a large heap: gcPercent
		{1 << 40, 30},     // a huge one too
	} {
		if got := percentFor(c.live, 30, 8*mb); got != c.want {
			t.Errorf("percentFor(%d) = %d, want %d", c.live, got, c.want)
		}
	}
}
