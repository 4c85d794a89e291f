package scheduler

import "time"

// Missed returns the latest slot of s after lastRun and at or before now,
// and whether there is one: the slot to take once, late, when the agent
// starts after the machine was off or wakes after it slept. However many
// slots passed, there is one catch-up run and it serves the latest of
// them.
//
// lastRun is when the job's last run began, of whatever kind; a slot at
// lastRun itself is not missed. A zero lastRun means the job never ran:
// its first start catches nothing up and waits for the next slot, so a new
// job does not run the moment the agent is installed. When lastRun is not
// before now, nothing is missed.
func Missed(s Schedule, lastRun, now time.Time) (time.Time, bool) {
	if lastRun.IsZero() {
		return time.Time{}, false
	}
	return s.latest(lastRun, now)
}

// latest returns the last slot of s in (after, until], and whether there
// is one. Its cost grows with the logarithm of until-after, not with the
// number of slots between them: it looks back from until over doubling
// spans before it steps forward through the slots.
func (s Schedule) latest(after, until time.Time) (time.Time, bool) {
	first := s.Next(after)
	if first.IsZero() || first.After(until) {
		return time.Time{}, false
	}
	from := after
	for d := time.Second; d > 0; d *= 2 { // d turns negative past 2^62ns
		t := until.Add(-d)
		if !t.After(after) {
			break
		}
		if n := s.Next(t); !n.IsZero() && !n.After(until) {
			from = t
			break
		}
	}
	last := first
	for n := s.Next(from); !n.IsZero() && !n.After(until); n = s.Next(n) {
		last = n
	}
	return last, true
}

// previous returns the last slot of s at or before t within twenty years,
// or the zero Time.
func (s Schedule) previous(t time.Time) time.Time {
	slot, _ := s.latest(t.AddDate(-20, 0, 0), t)
	return slot
}
