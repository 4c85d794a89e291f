package scheduler

import (
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	for _, c := range []struct {
		name     string
		b        Backoff
		failures []int
		want     []time.Duration
	}{
		{
			name:     "default doubles from 1m to 1h",
			failures: []int{1, 2, 3, 4, 5, 6, 7, 8, 100},
			want: []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
				16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour, time.Hour},
		},
		{
			name:     "fewer than one failure counts as one",
			failures: []int{0, -3},
			want:     []time.Duration{time.Minute, time.Minute},
		},
		{
			name:     "custom",
			b:        Backoff{Initial: 10 * time.Second, Max: 45 * time.Second},
			failures: []int{1, 2, 3, 4},
			want:     []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 45 * time.Second},
		},
		{
			name:     "max below initial is initial",
			b:        Backoff{Initial: 5 * time.Minute, Max: time.Minute},
			failures: []int{1, 2},
			want:     []time.Duration{5 * time.Minute, 5 * time.Minute},
		},
		{
			name:     "only initial set keeps the default max",
			b:        Backoff{Initial: 20 * time.Minute},
			failures: []int{1, 2, 3},
			want:     []time.Duration{20 * time.Minute, 40 * time.Minute, time.Hour},
		},
		{
			name:     "no overflow near the largest duration",
			b:        Backoff{Initial: time.Hour, Max: 1<<63 - 1},
			failures: []int{1, 20, 40, 1000},
			want:     []time.Duration{time.Hour, time.Hour << 19, 1<<63 - 1, 1<<63 - 1},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			for i, n := range c.failures {
				if got := c.b.Delay(n); got != c.want[i] {
					t.Errorf("Delay(%d) = %v, want %v", n, got, c.want[i])
				}
			}
		})
	}
}

func TestRetryAt(t *testing.T) {
	failed := time.Date(2024, 5, 1, 2, 31, 0, 0, time.UTC)
	for _, c := range []struct {
		name     string
		failures int
		nextSlot time.Time
		want     time.Time // zero: no retry
	}{
		{"first retry after 1m", 1, failed.Add(24 * time.Hour), failed.Add(time.Minute)},
		{"fourth retry after 8m", 4, failed.Add(24 * time.Hour), failed.Add(8 * time.Minute)},
		{"capped at 1h", 30, failed.Add(24 * time.Hour), failed.Add(time.Hour)},
		{"just before the slot", 5, failed.Add(16*time.Minute + time.Second), failed.Add(16 * time.Minute)},
		{"at the slot the slot takes over", 5, failed.Add(16 * time.Minute), time.Time{}},
		{"past the slot the slot takes over", 6, failed.Add(16 * time.Minute), time.Time{}},
		{"slot already past", 1, failed.Add(-time.Minute), time.Time{}},
		{"no slot ahead", 30, time.Time{}, failed.Add(time.Hour)},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := RetryAt(c.failures, failed, c.nextSlot)
			if ok != !c.want.IsZero() || !got.Equal(c.want) {
				t.Errorf("RetryAt(%d, %v, %v) = %v, %v; want %v", c.failures, failed, c.nextSlot, got, ok, c.want)
			}
		})
	}
}
