package scheduler

import (
	"strings"
	"testing"
	"time"
)

// TestSundaySeven: standard cron takes 7 for Sunday as well as 0, in
// single days, in ranges (with steps) and next to names; the slots are
// those of the same spec written with 0.
func TestSundaySeven(t *testing.T) {
	from := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC) // a Wednesday
	for _, c := range []struct {
		spec, same string // same: a spec robfig reads with the same slots
	}{
		{"0 3 * * 7", "0 3 * * 0"},
		{"0 3 * * 07", "0 3 * * 0"},
		{"0 3 * * 5-7", "0 3 * * 0,5,6"},
		{"0 3 * * fri-7", "0 3 * * 0,5,6"},
		{"0 3 * * 1-7", "0 3 * * 0-6"},
		{"0 3 * * 0-7", "0 3 * * 0-6"},
		{"0 3 * * 7-7", "0 3 * * 0"},
		{"0 3 * * 1-7/2", "0 3 * * 0,1,3,5"},
		{"0 3 * * 2-7/5", "0 3 * * 0,2"},
		{"0 3 * * 2-7/2", "0 3 * * 2,4,6"},
		{"0 3 * * mon,7", "0 3 * * 0,1"},
		// "N/step" runs from N to the end of the week, 7 in standard cron.
		{"0 3 * * 5/2", "0 3 * * 0,5"},
		{"0 3 * * 1/2", "0 3 * * 0,1,3,5"},
		{"0 3 * * fri/2", "0 3 * * 0,5"},
		{"0 3 * * 0/2", "0 3 * * 0,2,4,6"},
		{"0 3 * * 7/2", "0 3 * * 0"},
		{"0 3 * * */2", "0 3 * * 0,2,4,6"},
		// Names in any case, in ranges; descriptors.
		{"0 3 * * MON-FRI", "0 3 * * 1-5"},
		{"0 3 * * Mon-Fri", "0 3 * * 1-5"},
		{"0 3 * JAN,Jul *", "0 3 * 1,7 *"},
		{"@daily", "0 0 * * *"},
		{"@weekly", "0 0 * * 0"},
		{"@midnight", "0 0 * * *"},
		{"@annually", "0 0 1 1 *"},
		{"CRON_TZ=Asia/Tokyo @daily", "CRON_TZ=Asia/Tokyo 0 0 * * *"},
		{"TZ=Europe/Berlin 0 3 * * 7", "CRON_TZ=Europe/Berlin 0 3 * * 0"},
		{"0 3 * * 3,7,4-5", "0 3 * * 0,3-5"},
		{"CRON_TZ=Europe/Berlin 0 3 * * 7", "CRON_TZ=Europe/Berlin 0 3 * * sun"},
		// Both day fields restricted: either matches, as with 0.
		{"0 0 1 * 7", "0 0 1 * 0"},
	} {
		t.Run(c.spec, func(t *testing.T) {
			s, err := ParseSchedule(c.spec, time.UTC)
			if err != nil {
				t.Fatalf("ParseSchedule(%q): %v", c.spec, err)
			}
			same, err := ParseSchedule(c.same, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			if s.String() != c.spec {
				t.Errorf("String() = %q, want the spec as given", s.String())
			}
			got, want := slots(s, from, 10), slots(same, from, 10)
			if strings.Join(got, ", ") != strings.Join(want, ", ") {
				t.Errorf("slots:\n got %s\nwant %s", strings.Join(got, ", "), strings.Join(want, ", "))
			}
		})
	}
}

// TestSundaySevenErrors: day-of-week values above 7 and malformed parts
// stay errors.
func TestSundaySevenErrors(t *testing.T) {
	for _, c := range []struct{ spec, want string }{
		{"0 3 * * 8", "day of week 8 above 7 (0 and 7 are Sunday)"},
		{"0 3 * * 5-8", "day of week 8 above 7"},
		{"0 3 * * 7-1", "beginning of range (7) beyond end of range (1)"},
		{"0 3 * * 5-7/0", "step of range should be a positive number"},
		{"0 3 * * 5-7-1", "too many hyphens"},
		{"0 3 * * 5-7/1/2", "too many slashes"},
		{"0 3 * * x-7", "failed to parse int from x"},
	} {
		t.Run(c.spec, func(t *testing.T) {
			_, err := ParseSchedule(c.spec, time.UTC)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ParseSchedule(%q): %v, want an error saying %q", c.spec, err, c.want)
			}
		})
	}
}
