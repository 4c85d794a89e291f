package scheduler

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Unlimited as a count of a [Policy] keeps every snapshot (Last) or every
// period (the bucket rules).
const Unlimited = -1

// ErrPolicy is wrapped by the errors of [Policy.Validate].
var ErrPolicy = errors.New("scheduler: invalid retention policy")

// Policy says which snapshots to keep. Each count is -1 ([Unlimited]), 0
// (the rule is off) or the number of snapshots (Last) or periods (the
// others) to keep. The zero Policy keeps nothing; see [Policy.Empty].
type Policy struct {
	Last    int // the n newest snapshots
	Hourly  int // the newest snapshot of each of the n newest local clock hours that have one
	Daily   int // likewise per local date
	Weekly  int // likewise per ISO week
	Monthly int // likewise per month
	Yearly  int // likewise per year

	// Within keeps every snapshot taken at most Within before the newest
	// snapshot of the group; the edge is inclusive. 0 turns the rule off.
	Within time.Duration

	// Tags keeps every snapshot that carries any of these tags.
	Tags []string
}

// Empty reports whether p sets no rule at all. Such a policy keeps
// nothing, so callers refuse to forget with it.
func (p Policy) Empty() bool {
	for _, c := range p.counts() {
		if c.n != 0 {
			return false
		}
	}
	return p.Within == 0 && len(p.Tags) == 0
}

// Validate returns nil when every count is -1 or more, Within is not
// negative and no tag is empty. Otherwise it returns an error wrapping
// [ErrPolicy] for each problem, naming the rule as the configuration
// spells it (keep-daily).
func (p Policy) Validate() error {
	var errs []error
	for _, c := range p.counts() {
		if c.n < Unlimited {
			errs = append(errs, fmt.Errorf("%w: %s is %d, want -1 (unlimited), 0 (off) or more",
				ErrPolicy, c.name, c.n))
		}
	}
	if p.Within < 0 {
		errs = append(errs, fmt.Errorf("%w: keep-within is %v, want 0 (off) or more", ErrPolicy, p.Within))
	}
	if slices.Contains(p.Tags, "") {
		errs = append(errs, fmt.Errorf("%w: keep-tag has an empty tag", ErrPolicy))
	}
	return errors.Join(errs...)
}

// count is one count of a Policy with the name the configuration uses.
type count struct {
	name string
	n    int
}

func (p Policy) counts() []count {
	return []count{
		{"keep-last", p.Last},
		{"keep-hourly", p.Hourly},
		{"keep-daily", p.Daily},
		{"keep-weekly", p.Weekly},
		{"keep-monthly", p.Monthly},
		{"keep-yearly", p.Yearly},
	}
}

// Snapshot is what retention and grouping need to know of a snapshot.
type Snapshot struct {
	ID    string
	Time  time.Time
	Host  string
	Paths []string
	Tags  []string
}

// Decision is the fate of one snapshot. Keep is true exactly when Reasons
// is not empty. Reasons lists, in the order of the Policy's fields, why the
// snapshot stays: "last snapshot", "hourly snapshot", "daily snapshot",
// "weekly snapshot", "monthly snapshot", "yearly snapshot", "within 7d",
// "tag nightly" (one per matching tag).
type Decision struct {
	Snapshot Snapshot
	Keep     bool
	Reasons  []string
}

// Apply decides the fate of one group of snapshots under p and returns one
// decision per snapshot, newest first; snapshots taken at the same instant
// are ordered by ID. It returns nil when snaps is empty.
//
// Periods are computed in loc, the user's time zone (nil means UTC); see
// the package documentation for days of 23 or 25 hours and the repeated
// hour. Apply does not validate p: call [Policy.Validate] first. A count
// below -1 acts as -1, so an unchecked policy errs towards keeping, and a
// negative Within keeps nothing. An empty policy keeps nothing; callers
// check [Policy.Empty] before they forget.
//
// Apply neither modifies snaps nor copies the Paths and Tags slices: the
// decisions share them with snaps.
func Apply(p Policy, snaps []Snapshot, loc *time.Location) []Decision {
	if len(snaps) == 0 {
		return nil
	}
	if loc == nil {
		loc = time.UTC
	}
	ds := newestFirst(snaps)
	keepLast(ds, p.Last)
	for _, r := range periodRules(p) {
		keepPeriods(ds, r, loc)
	}
	keepWithin(ds, p.Within)
	keepTags(ds, p.Tags)
	for i := range ds {
		ds[i].Keep = len(ds[i].Reasons) > 0
	}
	return ds
}

// newestFirst returns undecided decisions for snaps, newest first, ties by
// ID.
func newestFirst(snaps []Snapshot) []Decision {
	ds := make([]Decision, len(snaps))
	for i, s := range snaps {
		ds[i].Snapshot = s
	}
	slices.SortStableFunc(ds, func(a, b Decision) int {
		if c := b.Snapshot.Time.Compare(a.Snapshot.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Snapshot.ID, b.Snapshot.ID)
	})
	return ds
}

func keepLast(ds []Decision, n int) {
	for i := range ds {
		if n >= 0 && i >= n {
			return
		}
		ds[i].Reasons = append(ds[i].Reasons, "last snapshot")
	}
}

// period identifies one calendar period: a year and a number within it
// (hour of the year, day of the year, ISO week, month; 0 for a year).
type period struct {
	year, n int
}

// periodRule is one bucket rule of a Policy.
type periodRule struct {
	count  int
	reason string
	of     func(local time.Time) period
}

func periodRules(p Policy) []periodRule {
	return []periodRule{
		{p.Hourly, "hourly snapshot", hourOf},
		{p.Daily, "daily snapshot", dayOf},
		{p.Weekly, "weekly snapshot", weekOf},
		{p.Monthly, "monthly snapshot", monthOf},
		{p.Yearly, "yearly snapshot", yearOf},
	}
}

// hourOf is the local date and clock hour of t: both passes through a
// repeated hour at a DST change map to the same period.
func hourOf(t time.Time) period { return period{t.Year(), t.YearDay()*24 + t.Hour()} }

func dayOf(t time.Time) period { return period{t.Year(), t.YearDay()} }

func monthOf(t time.Time) period { return period{t.Year(), int(t.Month())} }

func yearOf(t time.Time) period { return period{t.Year(), 0} }

// weekOf is the ISO 8601 year and week of t.
func weekOf(t time.Time) period {
	y, w := t.ISOWeek()
	return period{y, w}
}

// keepPeriods keeps, walking ds from newest to oldest, each snapshot whose
// period differs from the last one r kept, until r.count periods are kept.
func keepPeriods(ds []Decision, r periodRule, loc *time.Location) {
	left := r.count
	var last period
	for i := range ds {
		if left == 0 {
			return
		}
		p := r.of(ds[i].Snapshot.Time.In(loc))
		if i > 0 && p == last {
			continue
		}
		last = p
		ds[i].Reasons = append(ds[i].Reasons, r.reason)
		if left > 0 {
			left--
		}
	}
}

func keepWithin(ds []Decision, within time.Duration) {
	if within <= 0 {
		return
	}
	newest := ds[0].Snapshot.Time
	reason := "within " + formatSpan(within)
	for i := range ds {
		if newest.Sub(ds[i].Snapshot.Time) <= within {
			ds[i].Reasons = append(ds[i].Reasons, reason)
		}
	}
}

// keepTags gives each snapshot one reason per distinct policy tag it
// carries, in the policy's order.
func keepTags(ds []Decision, tags []string) {
	for i := range ds {
		for j, tag := range tags {
			if slices.Contains(tags[:j], tag) || !slices.Contains(ds[i].Snapshot.Tags, tag) {
				continue
			}
			ds[i].Reasons = append(ds[i].Reasons, "tag "+tag)
		}
	}
}

// formatSpan writes d for a reason: whole days as "7d", the rest as
// time.Duration does, without trailing zero units ("1d12h", "1h30m",
// "1.5s").
func formatSpan(d time.Duration) string {
	const day = 24 * time.Hour
	s := ""
	if d >= day {
		s = strconv.FormatInt(int64(d/day), 10) + "d"
		d %= day
		if d == 0 {
			return s
		}
	}
	r := d.String() // "12h0m0s", "1h30m0s", "30m0s", "1.5s"
	if strings.HasSuffix(r, "m0s") {
		r = strings.TrimSuffix(r, "0s")
	}
	if strings.HasSuffix(r, "h0m") {
		r = strings.TrimSuffix(r, "0m")
	}
	return s + r
}
