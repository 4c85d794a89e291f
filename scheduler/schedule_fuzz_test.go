package scheduler

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzSchedule parses any spec. ParseSchedule must not panic, and its
// errors wrap ErrSchedule and quote the spec. A schedule that parses must
// be due again and again: Next is strictly after its argument, nothing is
// due in between (Next of the instant just before gives the same slot), and
// Missed over that span finds that slot.
func FuzzSchedule(f *testing.F) {
	for _, spec := range []string{
		"30 2 * * *", "*/15 * * * *", "0 */4 * * 1-5", "0 0 1 * mon", "0 0 29 2 *", "5-10/2 1,3 1-7 jan-mar *", "0 3 * * 5-7", "0 3 1 * 1-7/3,7",
		"@daily", "@hourly", "@weekly", "@monthly", "@yearly", "@every 6h", "@every 97m", "@every 1s",
		"CRON_TZ=Europe/Berlin 30 2 * * *", "TZ=America/New_York 0 2 * * *", "CRON_TZ=Europe/Berlin",
		"0 0 30 2 *", "30 , * * *", "@every 1.5s", "", "TZ=", "* * * * * *",
	} {
		f.Add(spec, uint8(1), int64(1729990800), uint16(0))
	}
	f.Add("45 1 * * *", uint8(3), int64(1712413800), uint16(90))
	locs := make([]*time.Location, len(fuzzZones))
	for i, name := range fuzzZones {
		locs[i] = zone(f, name)
	}
	base := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string, zoneIndex uint8, secs int64, jitter uint16) {
		s, err := ParseSchedule(spec, locs[int(zoneIndex)%len(locs)])
		if err != nil {
			if !errors.Is(err, ErrSchedule) || !strings.Contains(err.Error(), strconv.Quote(spec)) {
				t.Fatalf("ParseSchedule(%q): error %q does not wrap ErrSchedule and quote the spec", spec, err)
			}
			return
		}
		s = s.WithJitter(time.Duration(jitter) * time.Second)
		const span = 120 * 365 * 24 * 60 * 60 // 1990 to 2110
		from := base.Add(time.Duration(((secs%span)+span)%span) * time.Second)
		for range 3 {
			next := s.Next(from)
			if !next.After(from) {
				t.Fatalf("%q: Next(%v) = %v, not after it", spec, from, next)
			}
			if again := s.Next(next.Add(-time.Nanosecond)); !again.Equal(next) {
				t.Fatalf("%q: Next(%v) = %v but Next(%v) = %v", spec, from, next, next.Add(-time.Nanosecond), again)
			}
			if got, ok := Missed(s, from, next); !ok || !got.Equal(next) {
				t.Fatalf("%q: Missed(%v, %v) = %v, %v; want the slot", spec, from, next, got, ok)
			}
			from = next
		}
	})
}
