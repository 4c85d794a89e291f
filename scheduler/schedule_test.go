package scheduler

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// slotFormat is how the schedule tests write instants: a wall clock time
// and its offset, so either side of a clock change reads plainly.
const slotFormat = "2006-01-02 15:04 -0700"

// slots returns the n slots of s after from, formatted in s's location.
func slots(s Schedule, from time.Time, n int) []string {
	var got []string
	for range n {
		from = s.Next(from)
		got = append(got, from.In(s.Location()).Format(slotFormat))
	}
	return got
}

func TestParseScheduleErrors(t *testing.T) {
	for _, c := range []struct {
		spec, want string
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"30 25 * * *", "end of range (25) above maximum (23)"},
		{"60 2 * * *", "end of range (60) above maximum (59)"},
		{"30 2 0 * *", "beginning of range (0) below minimum (1)"},
		{"30 2 * * 8", "day of week 8 above 7 (0 and 7 are Sunday)"},
		{"0 30 2 * * *", "6 fields, want 5: minute hour day-of-month month day-of-week"},
		{"30 2 * *", "4 fields, want 5"},
		{"30 2 * * mon-fri/0", "step of range should be a positive number"},
		{"x 2 * * *", "failed to parse int from x"},
		{"30 , * * *", "a field lists no values"},
		{"0 0 30 2 *", "never due"},
		{"0 0 31 4,6,9,11 *", "never due"},
		{"@fortnightly", "unrecognized descriptor: @fortnightly"},
		{"@every", `"@every" takes one duration`},
		{"@every 1h 2h", `"@every" takes one duration`},
		{"@every six hours", `"@every" takes one duration`},
		{"@every 6", `missing unit in duration "6"`},
		{"@every 0s", "interval 0s is below 1s"},
		{"@every -1h", "interval -1h0m0s is below 1s"},
		{"@every 500ms", "interval 500ms is below 1s"},
		{"@every 1.5s", "interval 1.5s is not a whole number of seconds"},
		{"CRON_TZ=Mars/Olympus 30 2 * * *", `time zone "Mars/Olympus"`},
		{"CRON_TZ=Europe/Berlin", "time zone Europe/Berlin but no schedule"},
		{"TZ=Europe/Berlin", "time zone Europe/Berlin but no schedule"},
		{"CRON_TZ= 30 2 * * *", "empty time zone"},
		{"CRON_TZ=UTC TZ=Europe/Berlin 30 2 * * *", "more than one time zone"},
		{"CRON_TZ=/etc/passwd 30 2 * * *", `time zone "/etc/passwd"`},
		{"CRON_TZ=Europe/Berlin 30 2 * *", "4 fields"},
	} {
		t.Run(c.spec, func(t *testing.T) {
			s, err := ParseSchedule(c.spec, time.UTC)
			if err == nil {
				t.Fatalf("ParseSchedule(%q) = %v, want an error", c.spec, s)
			}
			if !errors.Is(err, ErrSchedule) {
				t.Errorf("error %q does not wrap ErrSchedule", err)
			}
			if prefix := `scheduler: invalid schedule "` + c.spec + `": `; !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q does not begin with %q", err, prefix)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if s != (Schedule{}) {
				t.Errorf("a failed parse returned %+v, want the zero Schedule", s)
			}
		})
	}
}

var nextCases = []struct {
	name   string
	spec   string
	zone   string        // the loc argument; "" is nil, which means UTC
	jitter time.Duration // for WithJitter
	from   string        // read in the schedule's zone unless it has an offset
	want   []string      // the successive slots after from
}{
	{
		name: "nightly",
		spec: "30 2 * * *", zone: "Europe/Berlin", from: "2024-05-01 00:00",
		want: []string{"2024-05-01 02:30 +0200", "2024-05-02 02:30 +0200", "2024-05-03 02:30 +0200"},
	},
	{
		name: "a slot is strictly after its argument",
		spec: "30 2 * * *", zone: "Europe/Berlin", from: "2024-05-01 02:30",
		want: []string{"2024-05-02 02:30 +0200"},
	},
	{
		name: "nil zone is UTC",
		spec: "30 2 * * *", from: "2024-05-01 03:00 +0000",
		want: []string{"2024-05-02 02:30 +0000"},
	},
	{
		name: "CRON_TZ overrides the zone argument",
		spec: "CRON_TZ=America/New_York 30 2 * * *", zone: "Europe/Berlin", from: "2024-05-01 00:00 -0400",
		want: []string{"2024-05-01 02:30 -0400", "2024-05-02 02:30 -0400"},
	},
	{
		name: "TZ prefix and surrounding spaces",
		spec: "  TZ=Asia/Kolkata   0 9 * * 1-5 ", from: "2024-05-03 10:00 +0530", // a Friday
		want: []string{"2024-05-06 09:00 +0530", "2024-05-07 09:00 +0530"},
	},
	{
		name: "spring forward: the missing 02:30 is due when the clocks jump",
		spec: "30 2 * * *", zone: "Europe/Berlin", from: "2024-03-30 00:00",
		want: []string{"2024-03-30 02:30 +0100", "2024-03-31 03:00 +0200", "2024-04-01 02:30 +0200"},
	},
	{
		name: "spring forward: the missing quarter hours are due once",
		spec: "*/15 * * * *", zone: "Europe/Berlin", from: "2024-03-31 01:40",
		want: []string{"2024-03-31 01:45 +0100", "2024-03-31 03:00 +0200", "2024-03-31 03:15 +0200"},
	},
	{
		name: "fall back: the repeated 02:30 is due once",
		spec: "30 2 * * *", zone: "Europe/Berlin", from: "2024-10-26 12:00",
		want: []string{"2024-10-27 02:30 +0200", "2024-10-28 02:30 +0100"},
	},
	{
		name: "fall back: from the second 02:10 the first 02:30 is past",
		spec: "30 2 * * *", zone: "Europe/Berlin", from: "2024-10-27 02:10 +0100",
		want: []string{"2024-10-28 02:30 +0100"},
	},
	{
		name: "fall back: hourly skips the repeated hour",
		spec: "@hourly", zone: "Europe/Berlin", from: "2024-10-27 00:30",
		want: []string{"2024-10-27 01:00 +0200", "2024-10-27 02:00 +0200", "2024-10-27 03:00 +0100"},
	},
	{
		name: "half-hour shift of Lord Howe: 01:45 read twice is due once",
		spec: "45 1 * * *", zone: "Australia/Lord_Howe", from: "2024-04-06 12:00",
		want: []string{"2024-04-07 01:45 +1100", "2024-04-08 01:45 +1030"},
	},
	{
		name: "New York spring forward at 02:00",
		spec: "0 2 * * *", zone: "America/New_York", from: "2024-03-09 12:00",
		want: []string{"2024-03-10 03:00 -0400", "2024-03-11 02:00 -0400"},
	},
	{
		name: "daily is local midnight",
		spec: "@daily", zone: "Europe/Berlin", from: "2024-10-26 12:00",
		want: []string{"2024-10-27 00:00 +0200", "2024-10-28 00:00 +0100"},
	},
	{
		name: "weekly is Sunday midnight",
		spec: "@weekly", zone: "Europe/Berlin", from: "2024-05-01 12:00",
		want: []string{"2024-05-05 00:00 +0200", "2024-05-12 00:00 +0200"},
	},
	{
		name: "monthly and yearly",
		spec: "@monthly", from: "2024-12-15 00:00",
		want: []string{"2025-01-01 00:00 +0000", "2025-02-01 00:00 +0000"},
	},
	{
		name: "both day fields restricted: either matches",
		spec: "0 0 1 * mon", from: "2024-05-01 12:00", // 1 May 2024 is a Wednesday
		want: []string{"2024-05-06 00:00 +0000", "2024-05-13 00:00 +0000", "2024-05-20 00:00 +0000",
			"2024-05-27 00:00 +0000", "2024-06-01 00:00 +0000", "2024-06-03 00:00 +0000"},
	},
	{
		name: "29 February beyond robfig's five years",
		spec: "0 0 29 2 *", from: "2097-01-01 00:00",
		want: []string{"2104-02-29 00:00 +0000"},
	},
	{
		name: "every 6h is a grid from the epoch in UTC",
		spec: "@every 6h", zone: "Europe/Berlin", from: "2024-10-27 00:30",
		want: []string{"2024-10-27 02:00 +0200", "2024-10-27 07:00 +0100", "2024-10-27 13:00 +0100"},
	},
	{
		name: "every 90m",
		spec: "@every 90m", from: "2024-05-01 00:00",
		want: []string{"2024-05-01 01:30 +0000", "2024-05-01 03:00 +0000", "2024-05-01 04:30 +0000"},
	},
	{
		name: "every before the epoch",
		spec: "@every 7h", from: "1969-12-31 12:00",
		want: []string{"1969-12-31 17:00 +0000", "1970-01-01 00:00 +0000", "1970-01-01 07:00 +0000"},
	},
	{
		name: "jitter delays every slot",
		spec: "30 2 * * *", zone: "Europe/Berlin", jitter: 7 * time.Minute, from: "2024-05-01 02:35",
		want: []string{"2024-05-01 02:37 +0200", "2024-05-02 02:37 +0200"},
	},
	{
		name: "jitter on a grid",
		spec: "@every 6h", jitter: 25 * time.Minute, from: "2024-05-01 00:00",
		want: []string{"2024-05-01 00:25 +0000", "2024-05-01 06:25 +0000"},
	},
	{
		name: "jitter past a clock change",
		spec: "30 2 * * *", zone: "Europe/Berlin", jitter: 45 * time.Minute, from: "2024-03-30 12:00",
		want: []string{"2024-03-31 03:45 +0200", "2024-04-01 03:15 +0200"},
	},
}

func TestScheduleNext(t *testing.T) {
	for _, c := range nextCases {
		t.Run(c.name, func(t *testing.T) {
			var loc *time.Location
			if c.zone != "" {
				loc = zone(t, c.zone)
			}
			s, err := ParseSchedule(c.spec, loc)
			if err != nil {
				t.Fatal(err)
			}
			s = s.WithJitter(c.jitter)
			got := slots(s, at(t, s.Location(), c.from), len(c.want))
			if strings.Join(got, ", ") != strings.Join(c.want, ", ") {
				t.Errorf("slots after %s:\n got %s\nwant %s", c.from, strings.Join(got, ", "), strings.Join(c.want, ", "))
			}
		})
	}
}

func TestScheduleAccessors(t *testing.T) {
	s, err := ParseSchedule("CRON_TZ=Europe/Berlin 30 2 * * *", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != "CRON_TZ=Europe/Berlin 30 2 * * *" {
		t.Errorf("String() = %q", got)
	}
	if got := s.Location().String(); got != "Europe/Berlin" {
		t.Errorf("Location() = %s", got)
	}
	if got := s.WithJitter(-time.Minute).Jitter(); got != 0 {
		t.Errorf("negative jitter: Jitter() = %v, want 0", got)
	}
	if got := s.WithJitter(time.Minute).WithJitter(2 * time.Minute).Jitter(); got != 2*time.Minute {
		t.Errorf("WithJitter twice: Jitter() = %v, want the second", got)
	}
}

func TestZeroScheduleNeverDue(t *testing.T) {
	var s Schedule
	now := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	if got := s.Next(now); !got.IsZero() {
		t.Errorf("zero Schedule: Next = %v, want the zero Time", got)
	}
	if got, ok := Missed(s, now.AddDate(-1, 0, 0), now); ok {
		t.Errorf("zero Schedule: Missed = %v, true", got)
	}
}
