package scheduler

import (
	"math/rand/v2"
	"testing"
	"time"
)

// mustSchedule parses spec in the named zone ("" is UTC).
func mustSchedule(tb testing.TB, spec, zoneName string) Schedule {
	tb.Helper()
	s, err := ParseSchedule(spec, zone(tb, zoneName))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestMissed(t *testing.T) {
	for _, c := range []struct {
		name         string
		spec, zone   string
		lastRun, now string // "" is the zero Time
		want         string // the slot; "" when none is missed
	}{
		{
			name: "first start catches nothing up",
			spec: "30 2 * * *", lastRun: "", now: "2024-05-03 09:00",
		},
		{
			name: "nothing missed before the next slot",
			spec: "30 2 * * *", lastRun: "2024-05-03 02:30", now: "2024-05-04 02:29",
		},
		{
			name: "a slot at now is missed",
			spec: "30 2 * * *", lastRun: "2024-05-03 02:30", now: "2024-05-04 02:30",
			want: "2024-05-04 02:30 +0000",
		},
		{
			name: "a slot at the last run is not missed",
			spec: "30 2 * * *", lastRun: "2024-05-03 02:30", now: "2024-05-03 09:00",
		},
		{
			name: "a run that began late took its slot",
			spec: "30 2 * * *", lastRun: "2024-05-03 02:31", now: "2024-05-04 01:00",
		},
		{
			name: "one missed slot",
			spec: "30 2 * * *", lastRun: "2024-05-03 02:30", now: "2024-05-04 09:00",
			want: "2024-05-04 02:30 +0000",
		},
		{
			name: "three days off: the latest of three slots",
			spec: "30 2 * * *", zone: "Europe/Berlin", lastRun: "2024-05-03 02:30", now: "2024-05-06 09:00",
			want: "2024-05-06 02:30 +0200",
		},
		{
			name: "off across the night the clocks go back",
			spec: "30 2 * * *", zone: "Europe/Berlin", lastRun: "2024-10-26 02:30", now: "2024-10-27 02:45 +0100",
			want: "2024-10-27 02:30 +0200",
		},
		{
			name: "off across the night the clocks go forward",
			spec: "30 2 * * *", zone: "Europe/Berlin", lastRun: "2024-03-30 02:30", now: "2024-03-31 08:00",
			want: "2024-03-31 03:00 +0200",
		},
		{
			name: "last run in the future",
			spec: "30 2 * * *", lastRun: "2024-06-01 02:30", now: "2024-05-03 09:00",
		},
		{
			name: "every minute for a year",
			spec: "* * * * *", lastRun: "2023-05-03 09:00", now: "2024-05-03 08:59",
			want: "2024-05-03 08:59 +0000",
		},
		{
			name: "monthly over ten years",
			spec: "@monthly", lastRun: "2014-01-01 00:00", now: "2024-05-03 08:59",
			want: "2024-05-01 00:00 +0000",
		},
		{
			name: "busy hours only",
			spec: "*/5 9-17 * * 1-5", lastRun: "2024-05-03 12:00", now: "2024-05-06 08:00", // Friday to Monday
			want: "2024-05-03 17:55 +0000",
		},
		{
			name: "every 6h",
			spec: "@every 6h", lastRun: "2024-05-01 06:00", now: "2024-05-04 05:59",
			want: "2024-05-04 00:00 +0000",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := mustSchedule(t, c.spec, c.zone)
			var lastRun time.Time
			if c.lastRun != "" {
				lastRun = at(t, s.Location(), c.lastRun)
			}
			got, ok := Missed(s, lastRun, at(t, s.Location(), c.now))
			switch {
			case c.want == "" && ok:
				t.Errorf("Missed = %s, want none", got.Format(slotFormat))
			case c.want != "" && !ok:
				t.Errorf("Missed = none, want %s", c.want)
			case c.want != "" && got.Format(slotFormat) != c.want:
				t.Errorf("Missed = %s, want %s", got.Format(slotFormat), c.want)
			}
		})
	}
}

// TestLatestMatchesStepping checks latest, which looks back over doubling
// spans, against stepping through every slot with Next.
func TestLatestMatchesStepping(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct{ spec, zone string }{
		{"30 2 * * *", "Europe/Berlin"},
		{"*/7 1-3 * * *", "Europe/Berlin"},
		{"0 0 1,15 * *", ""},
		{"@every 97m", ""},
		{"45 1 * * 0", "Australia/Lord_Howe"},
	} {
		s := mustSchedule(t, c.spec, c.zone).WithJitter(time.Duration(rng.IntN(3600)) * time.Second)
		for range 200 {
			after := base.Add(time.Duration(rng.Int64N(int64(300 * 24 * time.Hour))))
			until := after.Add(time.Duration(rng.Int64N(int64(20 * 24 * time.Hour))))
			var want time.Time
			for n := s.Next(after); !n.After(until); n = s.Next(n) {
				want = n
			}
			got, ok := s.latest(after, until)
			if ok != !want.IsZero() || !got.Equal(want) {
				t.Fatalf("%s: latest(%v, %v) = %v, %v; stepping gives %v", c.spec, after, until, got, ok, want)
			}
		}
	}
}

// BenchmarkMissed catches up a minute schedule over ten years, five
// million slots: latest looks back over doubling spans instead of stepping
// through them, so this takes microseconds.
func BenchmarkMissed(b *testing.B) {
	s := mustSchedule(b, "* * * * *", "Europe/Berlin")
	now := time.Date(2024, 5, 3, 9, 0, 30, 0, time.UTC)
	lastRun := now.AddDate(-10, 0, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := Missed(s, lastRun, now); !ok {
			b.Fatal("nothing missed")
		}
	}
}
