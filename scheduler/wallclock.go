package scheduler

import "time"

// Wall clock times are handled as UTC times that carry the reading of a
// clock in some zone: 02:30 in Europe/Berlin is 02:30 UTC here. robfig's
// cron then steps through readings without ever meeting a clock change, and
// firstReading maps a reading back to an instant.

// wallClock returns the reading of a clock in loc at t, as a UTC time.
func wallClock(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

// firstReading returns the first instant at which a clock in loc reads w
// (a UTC time carrying the reading). When the clocks go back and w is read
// twice, that is the earlier instant; when they go forward over w, it is
// the instant of the change, the first one whose reading is past w.
//
// It assumes that loc changes its offset at most once within a day of w,
// which holds for every zone in use.
func firstReading(w time.Time, loc *time.Location) time.Time {
	const day = 24 * 60 * 60
	u := w.Unix()
	var first time.Time
	found := false
	// The offsets a day before and a day after w are the candidates.
	for _, probe := range [2]int64{u - day, u + day} {
		_, off := time.Unix(probe, 0).In(loc).Zone()
		t := time.Unix(u-int64(off), int64(w.Nanosecond())).In(loc)
		if wallClock(t, loc).Equal(w) && (!found || t.Before(first)) {
			first, found = t, true
		}
	}
	if found {
		return first
	}
	// w falls in a gap. Read with the offset from before the gap, it names
	// an instant just after the change; the change begins that zone period.
	_, off := time.Unix(u-day, 0).In(loc).Zone()
	if start, _ := time.Unix(u-int64(off), 0).In(loc).ZoneBounds(); !start.IsZero() {
		return start
	}
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
}
