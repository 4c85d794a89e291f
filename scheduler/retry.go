package scheduler

import "time"

// The defaults of [Backoff].
const (
	DefaultRetryInitial = time.Minute
	DefaultRetryMax     = time.Hour
)

// Backoff says how long a job waits before it retries a failed run: Initial
// after the first failure, twice as long after each further one, never
// longer than Max. The zero Backoff is 1m, 2m, 4m… capped at 1h.
type Backoff struct {
	Initial time.Duration // the first wait; 0 or less means DefaultRetryInitial
	Max     time.Duration // the longest wait; 0 or less means DefaultRetryMax, below Initial means Initial
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultRetryInitial
	}
	if b.Max <= 0 {
		b.Max = DefaultRetryMax
	}
	b.Max = max(b.Max, b.Initial)
	return b
}

// Delay returns the wait after the given number of consecutive failures
// (the one that just happened included); a number below 1 counts as 1.
func (b Backoff) Delay(failures int) time.Duration {
	b = b.withDefaults()
	d := b.Initial
	for i := 1; i < failures && d < b.Max; i++ {
		if d > b.Max/2 {
			return b.Max
		}
		d *= 2
	}
	return min(d, b.Max)
}

// RetryAt returns when to retry a run that failed at failedAt after the
// given number of consecutive failures, and true; or the zero Time and
// false when that would not be before nextSlot, the job's next scheduled
// slot, which then takes over: retries never run past a slot, and the slot
// runs in their place. A zero nextSlot (no slot ahead) does not limit the
// retries.
func (b Backoff) RetryAt(failures int, failedAt, nextSlot time.Time) (time.Time, bool) {
	at := failedAt.Add(b.Delay(failures))
	if !nextSlot.IsZero() && !at.Before(nextSlot) {
		return time.Time{}, false
	}
	return at, true
}

// RetryAt is [Backoff.RetryAt] with the default backoff: 1m, 2m, 4m…
// capped at 1h.
func RetryAt(failures int, failedAt, nextSlot time.Time) (time.Time, bool) {
	return Backoff{}.RetryAt(failures, failedAt, nextSlot)
}
