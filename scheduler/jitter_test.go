package scheduler

import (
	"fmt"
	"testing"
	"time"
)

// TestJitterStable pins delays: they must not change between releases, or
// every host would move its runs on upgrade.
func TestJitterStable(t *testing.T) {
	for _, c := range []struct {
		key  string
		max  time.Duration
		want time.Duration
	}{
		{"lab1/system", 30 * time.Minute, 24*time.Minute + 26*time.Second},
		{"lab2/system", 30 * time.Minute, 18*time.Minute + 16*time.Second},
		{"lab1/system", 10 * time.Minute, 4*time.Minute + 26*time.Second},
		{"", time.Hour, 30*time.Minute + 3*time.Second},
		{"lab1/system", 999 * time.Millisecond, 0},
		{"lab1/system", 0, 0},
		{"lab1/system", -time.Hour, 0},
		{"lab1/system", time.Second, 0},
	} {
		if got := Jitter(c.key, c.max); got != c.want {
			t.Errorf("Jitter(%q, %v) = %v, want %v", c.key, c.max, got, c.want)
		}
	}
}

// TestJitterSpread checks that delays are whole seconds in [0, max) and
// that a thousand hosts fill ten one-minute buckets about evenly.
func TestJitterSpread(t *testing.T) {
	const hosts, max = 1000, 10 * time.Minute
	var buckets [10]int
	for i := range hosts {
		d := Jitter(fmt.Sprintf("host%d/system", i), max)
		if d < 0 || d >= max || d%time.Second != 0 {
			t.Fatalf("Jitter(host%d/system, %v) = %v, want whole seconds in [0, %v)", i, max, d, max)
		}
		buckets[d/time.Minute]++
	}
	for i, n := range buckets {
		if n < 70 || n > 130 { // 100 expected; outside 70..130 is > 3 sigma
			t.Errorf("minute %d holds %d of %d hosts: %v", i, n, hosts, buckets)
		}
	}
}
