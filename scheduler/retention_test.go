package scheduler

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones below load where the system has no zoneinfo
)

// zone loads a named time zone; "" is UTC.
func zone(tb testing.TB, name string) *time.Location {
	tb.Helper()
	if name == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatalf("load zone %s: %v", name, err)
	}
	return loc
}

// at reads "2006-01-02 15:04" as a wall clock time in loc, or
// "2006-01-02 15:04 -0700" at the offset it names (which is how the tests
// pick one side of a repeated hour).
func at(tb testing.TB, loc *time.Location, s string) time.Time {
	tb.Helper()
	if t, err := time.Parse("2006-01-02 15:04 -0700", s); err == nil {
		return t
	}
	t, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		tb.Fatalf("bad test time %q: %v", s, err)
	}
	return t
}

// history makes one snapshot per time string, whose ID is that string.
func history(tb testing.TB, loc *time.Location, times []string, tags map[string][]string) []Snapshot {
	tb.Helper()
	snaps := make([]Snapshot, len(times))
	for i, s := range times {
		snaps[i] = Snapshot{ID: s, Time: at(tb, loc, s), Host: "lab1", Paths: []string{"/"}, Tags: tags[s]}
	}
	return snaps
}

// kept lists the IDs of the kept snapshots in decision order.
func kept(ds []Decision) []string {
	var ids []string
	for _, d := range ds {
		if d.Keep {
			ids = append(ids, d.Snapshot.ID)
		}
	}
	return ids
}

func reasonsOf(ds []Decision, id string) []string {
	for _, d := range ds {
		if d.Snapshot.ID == id {
			return d.Reasons
		}
	}
	return nil
}

var applyCases = []struct {
	name    string
	zone    string // "" is UTC
	policy  Policy
	snaps   []string // in any order
	tags    map[string][]string
	want    []string            // the kept IDs, newest first
	reasons map[string][]string // the reasons of some of them
}{
	{
		name:   "keep-last keeps the newest",
		policy: Policy{Last: 3},
		snaps:  []string{"2024-05-03 10:00", "2024-05-01 10:00", "2024-05-05 10:00", "2024-05-02 10:00", "2024-05-04 10:00"},
		want:   []string{"2024-05-05 10:00", "2024-05-04 10:00", "2024-05-03 10:00"},
	},
	{
		name:   "keep-last unlimited",
		policy: Policy{Last: Unlimited},
		snaps:  []string{"2024-05-01 10:00", "2024-05-01 10:01", "2019-01-01 00:00"},
		want:   []string{"2024-05-01 10:01", "2024-05-01 10:00", "2019-01-01 00:00"},
	},
	{
		name:   "keep-last more than there are",
		policy: Policy{Last: 10},
		snaps:  []string{"2024-05-01 10:00", "2024-05-02 10:00"},
		want:   []string{"2024-05-02 10:00", "2024-05-01 10:00"},
	},
	{
		name:   "empty policy keeps nothing",
		policy: Policy{},
		snaps:  []string{"2024-05-01 10:00", "2024-05-02 10:00"},
		want:   nil,
	},
	{
		name:   "same instant ordered by ID",
		policy: Policy{Last: 1},
		snaps:  []string{"2024-05-01 14:00 +0200", "2024-05-01 12:00 +0000"},
		want:   []string{"2024-05-01 12:00 +0000"},
	},
	{
		name:   "keep-daily keeps the newest of each day",
		policy: Policy{Daily: 2},
		snaps: []string{"2024-05-01 08:00", "2024-05-01 20:00", "2024-05-02 09:00", "2024-05-02 23:59",
			"2024-05-03 00:00", "2024-05-03 00:01"},
		want: []string{"2024-05-03 00:01", "2024-05-02 23:59"},
	},
	{
		name:   "keep-daily unlimited",
		policy: Policy{Daily: Unlimited},
		snaps: []string{"2024-05-01 08:00", "2024-05-01 20:00", "2024-05-02 09:00", "2024-05-02 23:59",
			"2024-05-03 00:00", "2024-05-03 00:01"},
		want: []string{"2024-05-03 00:01", "2024-05-02 23:59", "2024-05-01 20:00"},
	},
	{
		name:   "a count below -1 acts as unlimited",
		policy: Policy{Daily: -5},
		snaps:  []string{"2024-05-01 08:00", "2024-05-01 20:00", "2024-05-02 09:00", "2024-05-03 00:00"},
		want:   []string{"2024-05-03 00:00", "2024-05-02 09:00", "2024-05-01 20:00"},
	},
	{
		// Missing: 10, 11, 12, 16, 17, 19 March.
		name:   "keep-daily over holes reaches further back",
		policy: Policy{Daily: 7},
		snaps: []string{"2024-03-01 12:00", "2024-03-02 12:00", "2024-03-03 12:00", "2024-03-04 12:00",
			"2024-03-05 12:00", "2024-03-06 12:00", "2024-03-07 12:00", "2024-03-08 12:00", "2024-03-09 12:00",
			"2024-03-13 12:00", "2024-03-14 12:00", "2024-03-15 12:00", "2024-03-18 12:00", "2024-03-20 12:00"},
		want: []string{"2024-03-20 12:00", "2024-03-18 12:00", "2024-03-15 12:00", "2024-03-14 12:00",
			"2024-03-13 12:00", "2024-03-09 12:00", "2024-03-08 12:00"},
	},
	{
		name:   "keep-hourly",
		policy: Policy{Hourly: 3},
		snaps:  []string{"2024-05-01 10:05", "2024-05-01 10:55", "2024-05-01 11:10", "2024-05-01 13:00", "2024-05-01 13:30"},
		want:   []string{"2024-05-01 13:30", "2024-05-01 11:10", "2024-05-01 10:55"},
	},
	{
		name:   "days in UTC",
		policy: Policy{Daily: Unlimited},
		snaps:  []string{"2024-01-10 02:00 +0000", "2024-01-10 20:00 +0000", "2024-01-11 03:00 +0000"},
		want:   []string{"2024-01-11 03:00 +0000", "2024-01-10 20:00 +0000"},
	},
	{
		// The same instants: 9 Jan 21:00, 10 Jan 15:00, 10 Jan 22:00 in New York.
		name:   "days in America/New_York",
		zone:   "America/New_York",
		policy: Policy{Daily: Unlimited},
		snaps:  []string{"2024-01-10 02:00 +0000", "2024-01-10 20:00 +0000", "2024-01-11 03:00 +0000"},
		want:   []string{"2024-01-11 03:00 +0000", "2024-01-10 02:00 +0000"},
	},
	{
		// 31 March 2024 lasts 23 hours in Berlin; in UTC, 31 March 23:30 and
		// 1 April 00:30 would share a day.
		name:   "spring forward day is one day",
		zone:   "Europe/Berlin",
		policy: Policy{Daily: Unlimited},
		snaps: []string{"2024-03-30 23:30", "2024-03-31 00:30", "2024-03-31 01:30", "2024-03-31 03:30",
			"2024-03-31 23:30", "2024-04-01 00:30"},
		want: []string{"2024-04-01 00:30", "2024-03-31 23:30", "2024-03-30 23:30"},
	},
	{
		// 27 October 2024 lasts 25 hours in Berlin, 02:00-03:00 twice.
		name:   "fall back day is one day",
		zone:   "Europe/Berlin",
		policy: Policy{Daily: Unlimited},
		snaps: []string{"2024-10-26 23:50", "2024-10-27 00:10", "2024-10-27 02:30 +0200", "2024-10-27 02:30 +0100",
			"2024-10-27 23:50", "2024-10-28 00:10"},
		want: []string{"2024-10-28 00:10", "2024-10-27 23:50", "2024-10-26 23:50"},
	},
	{
		name:   "fall back repeated hour is one hourly period",
		zone:   "Europe/Berlin",
		policy: Policy{Hourly: Unlimited},
		snaps: []string{"2024-10-27 01:45", "2024-10-27 02:10 +0200", "2024-10-27 02:50 +0200",
			"2024-10-27 02:10 +0100", "2024-10-27 03:05"},
		want: []string{"2024-10-27 03:05", "2024-10-27 02:10 +0100", "2024-10-27 01:45"},
	},
	{
		name:   "spring forward skipped hour",
		zone:   "Europe/Berlin",
		policy: Policy{Hourly: 2},
		snaps:  []string{"2024-03-31 01:10", "2024-03-31 01:50", "2024-03-31 03:10"},
		want:   []string{"2024-03-31 03:10", "2024-03-31 01:50"},
	},
	{
		// 2020-12-28 to 2021-01-03 is 2020-W53; 2020-12-27 is 2020-W52.
		name:   "ISO week across the new year",
		policy: Policy{Weekly: Unlimited},
		snaps: []string{"2020-12-27 12:00", "2020-12-28 12:00", "2020-12-31 12:00", "2021-01-01 12:00",
			"2021-01-03 12:00", "2021-01-04 12:00"},
		want: []string{"2021-01-04 12:00", "2021-01-03 12:00", "2020-12-27 12:00"},
	},
	{
		name:   "years are calendar years, not ISO years",
		policy: Policy{Yearly: Unlimited},
		snaps: []string{"2020-12-27 12:00", "2020-12-28 12:00", "2020-12-31 12:00", "2021-01-01 12:00",
			"2021-01-03 12:00", "2021-01-04 12:00"},
		want: []string{"2021-01-04 12:00", "2020-12-31 12:00"},
	},
	{
		// 31 January 23:00 in New York is 1 February in UTC.
		name:   "months in the user's zone",
		zone:   "America/New_York",
		policy: Policy{Monthly: Unlimited},
		snaps:  []string{"2024-01-15 12:00", "2024-01-31 23:00", "2024-02-29 10:00", "2024-03-01 09:00"},
		want:   []string{"2024-03-01 09:00", "2024-02-29 10:00", "2024-01-31 23:00"},
	},
	{
		// 2024-02-25 is a Sunday (W08), 2024-02-26 a Monday (W09).
		name:   "keep-last with daily, weekly and monthly",
		policy: Policy{Last: 2, Daily: 2, Weekly: 2, Monthly: 2},
		snaps: []string{"2024-01-31 12:00", "2024-02-25 12:00", "2024-02-26 09:00", "2024-02-26 18:00",
			"2024-02-27 09:00", "2024-02-27 18:00"},
		want: []string{"2024-02-27 18:00", "2024-02-27 09:00", "2024-02-26 18:00", "2024-02-25 12:00", "2024-01-31 12:00"},
		reasons: map[string][]string{
			"2024-02-27 18:00": {"last snapshot", "daily snapshot", "weekly snapshot", "monthly snapshot"},
			"2024-02-27 09:00": {"last snapshot"},
			"2024-02-26 18:00": {"daily snapshot"},
			"2024-02-26 09:00": nil,
			"2024-02-25 12:00": {"weekly snapshot"},
			"2024-01-31 12:00": {"monthly snapshot"},
		},
	},
	{
		name:   "keep-within counts from the newest snapshot, edge included",
		policy: Policy{Within: 48 * time.Hour},
		snaps:  []string{"2001-06-01 00:00", "2001-06-08 11:59", "2001-06-08 12:00", "2001-06-10 12:00"},
		want:   []string{"2001-06-10 12:00", "2001-06-08 12:00"},
		reasons: map[string][]string{
			"2001-06-10 12:00": {"within 2d"},
			"2001-06-08 12:00": {"within 2d"},
		},
	},
	{
		name:   "a snapshot in the future of the others",
		policy: Policy{Daily: 2, Within: 24 * time.Hour},
		snaps:  []string{"2099-01-01 00:00", "2024-05-01 12:00", "2024-05-01 08:00", "2024-04-30 12:00"},
		want:   []string{"2099-01-01 00:00", "2024-05-01 12:00"},
		reasons: map[string][]string{
			"2099-01-01 00:00": {"daily snapshot", "within 1d"},
			"2024-05-01 12:00": {"daily snapshot"},
		},
	},
	{
		name:   "keep-tag keeps any of the tags",
		policy: Policy{Tags: []string{"nightly", "pre-upgrade", "nightly"}},
		snaps:  []string{"2024-05-01 00:00", "2024-05-02 00:00", "2024-05-03 00:00", "2024-05-04 00:00"},
		tags: map[string][]string{
			"2024-05-01 00:00": {"nightly"},
			"2024-05-02 00:00": {"manual"},
			"2024-05-03 00:00": {"pre-upgrade", "nightly"},
		},
		want: []string{"2024-05-03 00:00", "2024-05-01 00:00"},
		reasons: map[string][]string{
			"2024-05-03 00:00": {"tag nightly", "tag pre-upgrade"},
			"2024-05-01 00:00": {"tag nightly"},
			"2024-05-02 00:00": nil,
		},
	},
	{
		name: "every reason in the policy's order",
		policy: Policy{Last: 1, Hourly: 1, Daily: 1, Weekly: 1, Monthly: 1, Yearly: 1,
			Within: 90 * time.Minute, Tags: []string{"x"}},
		snaps: []string{"2024-05-01 10:00", "2024-05-01 09:00"},
		tags:  map[string][]string{"2024-05-01 10:00": {"x"}},
		want:  []string{"2024-05-01 10:00", "2024-05-01 09:00"},
		reasons: map[string][]string{
			"2024-05-01 10:00": {"last snapshot", "hourly snapshot", "daily snapshot", "weekly snapshot",
				"monthly snapshot", "yearly snapshot", "within 1h30m", "tag x"},
			"2024-05-01 09:00": {"within 1h30m"},
		},
	},
}

func TestApply(t *testing.T) {
	for _, tc := range applyCases {
		t.Run(tc.name, func(t *testing.T) {
			loc := zone(t, tc.zone)
			snaps := history(t, loc, tc.snaps, tc.tags)
			ds := Apply(tc.policy, snaps, loc)
			if len(ds) != len(snaps) {
				t.Fatalf("%d decisions for %d snapshots", len(ds), len(snaps))
			}
			if got := kept(ds); !slices.Equal(got, tc.want) {
				t.Errorf("kept\n%q\nwant\n%q", got, tc.want)
			}
			for id, want := range tc.reasons {
				if got := reasonsOf(ds, id); !slices.Equal(got, want) {
					t.Errorf("reasons of %s: %q, want %q", id, got, want)
				}
			}
		})
	}
}

// TestApplyYear runs the policy of a typical agent over a year of nightly
// snapshots at 23:30 in New York (04:30 UTC the next day, so UTC periods
// would keep other snapshots). The survivors are worked out by hand:
// 2023-12-31 is a Sunday, so the ISO weeks end on 31, 24, 17 and 10 December.
func TestApplyYear(t *testing.T) {
	loc := zone(t, "America/New_York")
	var snaps []Snapshot
	for d := time.Date(2023, 1, 1, 23, 30, 0, 0, loc); d.Year() == 2023; d = d.AddDate(0, 0, 1) {
		snaps = append(snaps, Snapshot{ID: d.Format("2006-01-02"), Time: d})
	}
	if len(snaps) != 365 {
		t.Fatalf("%d snapshots, want 365", len(snaps))
	}
	p := Policy{Daily: 7, Weekly: 4, Monthly: 12, Yearly: 1}
	want := []struct {
		day     string
		reasons []string
	}{
		{"2023-12-31", []string{"daily snapshot", "weekly snapshot", "monthly snapshot", "yearly snapshot"}},
		{"2023-12-30", []string{"daily snapshot"}},
		{"2023-12-29", []string{"daily snapshot"}},
		{"2023-12-28", []string{"daily snapshot"}},
		{"2023-12-27", []string{"daily snapshot"}},
		{"2023-12-26", []string{"daily snapshot"}},
		{"2023-12-25", []string{"daily snapshot"}},
		{"2023-12-24", []string{"weekly snapshot"}},
		{"2023-12-17", []string{"weekly snapshot"}},
		{"2023-12-10", []string{"weekly snapshot"}},
		{"2023-11-30", []string{"monthly snapshot"}},
		{"2023-10-31", []string{"monthly snapshot"}},
		{"2023-09-30", []string{"monthly snapshot"}},
		{"2023-08-31", []string{"monthly snapshot"}},
		{"2023-07-31", []string{"monthly snapshot"}},
		{"2023-06-30", []string{"monthly snapshot"}},
		{"2023-05-31", []string{"monthly snapshot"}},
		{"2023-04-30", []string{"monthly snapshot"}},
		{"2023-03-31", []string{"monthly snapshot"}},
		{"2023-02-28", []string{"monthly snapshot"}},
		{"2023-01-31", []string{"monthly snapshot"}},
	}
	ds := Apply(p, snaps, loc)
	var got []Decision
	for _, d := range ds {
		if d.Keep {
			got = append(got, d)
		}
	}
	if len(got) != len(want) {
		t.Errorf("kept %d snapshots, want %d: %q", len(got), len(want), kept(ds))
	}
	for i := range min(len(got), len(want)) {
		if got[i].Snapshot.ID != want[i].day || !slices.Equal(got[i].Reasons, want[i].reasons) {
			t.Errorf("survivor %d: %s %q, want %s %q", i, got[i].Snapshot.ID, got[i].Reasons, want[i].day, want[i].reasons)
		}
	}
}

func TestApplyEmpty(t *testing.T) {
	if ds := Apply(Policy{Last: 3}, nil, time.UTC); ds != nil {
		t.Errorf("Apply(nil) = %v, want nil", ds)
	}
	if ds := Apply(Policy{Last: 3}, []Snapshot{}, time.UTC); ds != nil {
		t.Errorf("Apply([]) = %v, want nil", ds)
	}
}

// TestApplyInput checks that Apply leaves its input alone and that a nil
// zone is UTC.
func TestApplyInput(t *testing.T) {
	snaps := history(t, time.UTC, []string{"2024-01-10 02:00", "2024-01-11 03:00", "2024-01-10 20:00"}, nil)
	before := slices.Clone(snaps)
	p := Policy{Daily: Unlimited}
	withNil, withUTC := Apply(p, snaps, nil), Apply(p, snaps, time.UTC)
	if !slices.EqualFunc(snaps, before, sameSnapshot) {
		t.Errorf("Apply reordered its input: %v", snaps)
	}
	if !slices.Equal(kept(withNil), kept(withUTC)) {
		t.Errorf("nil zone kept %q, UTC kept %q", kept(withNil), kept(withUTC))
	}
}

func sameSnapshot(a, b Snapshot) bool { return a.ID == b.ID && a.Time.Equal(b.Time) }

func TestPolicyEmpty(t *testing.T) {
	cases := []struct {
		name string
		p    Policy
		want bool
	}{
		{"zero", Policy{}, true},
		{"empty tag list", Policy{Tags: []string{}}, true},
		{"keep-last unlimited", Policy{Last: Unlimited}, false},
		{"keep-yearly", Policy{Yearly: 1}, false},
		{"keep-within", Policy{Within: time.Second}, false},
		{"keep-tag", Policy{Tags: []string{"a"}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Empty(); got != tc.want {
				t.Errorf("Empty() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	cases := []struct {
		name string
		p    Policy
		want []string // substrings of the error; nil when valid
	}{
		{"zero", Policy{}, nil},
		{"unlimited", Policy{Last: -1, Hourly: -1, Daily: -1, Weekly: -1, Monthly: -1, Yearly: -1}, nil},
		{"typical", Policy{Last: 3, Daily: 7, Weekly: 4, Within: 72 * time.Hour, Tags: []string{"keep"}}, nil},
		{"keep-last -2", Policy{Last: -2}, []string{"keep-last is -2"}},
		{"keep-weekly -7", Policy{Weekly: -7}, []string{"keep-weekly is -7"}},
		{"negative within", Policy{Within: -time.Second}, []string{"keep-within is -1s"}},
		{"empty tag", Policy{Tags: []string{"a", ""}}, []string{"empty tag"}},
		{"two problems", Policy{Hourly: -2, Yearly: -3}, []string{"keep-hourly is -2", "keep-yearly is -3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrPolicy) {
				t.Fatalf("Validate() = %v, want an error wrapping ErrPolicy", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to say %q", err, w)
				}
			}
		})
	}
}

func TestFormatSpan(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{7 * 24 * time.Hour, "7d"},
		{36 * time.Hour, "1d12h"},
		{24*time.Hour + time.Second, "1d1s"},
		{90 * time.Minute, "1h30m"},
		{2 * time.Hour, "2h"},
		{20 * time.Minute, "20m"},
		{1500 * time.Millisecond, "1.5s"},
	}
	for _, tc := range cases {
		if got := formatSpan(tc.d); got != tc.want {
			t.Errorf("formatSpan(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
