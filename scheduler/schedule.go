package scheduler

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/robfig/cron/v3"
)

// ErrSchedule is wrapped by the errors of [ParseSchedule].
var ErrSchedule = errors.New("scheduler: invalid schedule")

// Schedule is a job's parsed schedule: the instants, called slots, at
// which the job is due. The zero Schedule has no slots. A Schedule is an
// immutable value and safe for concurrent use.
type Schedule struct {
	spec   string
	loc    *time.Location
	cron   *cron.SpecSchedule // wall clock slots in a UTC frame; nil for "@every"
	every  time.Duration      // the interval of "@every": whole seconds, at least one
	jitter time.Duration
}

// ParseSchedule parses a job's schedule as robfig/cron's standard parser
// does:
//
//   - five fields, minute, hour, day of month, month and day of week
//     ("30 2 * * *", "0 */4 * * 1-5"), with robfig's ranges, steps and
//     names; when both day fields are restricted, either one matching is
//     enough, as in Vixie cron; Sunday is 0 or 7 ("0 3 * * 7", "5-7",
//     and "5/2", Friday and Sunday), as in standard cron, where robfig
//     takes 0 only;
//   - the descriptors @yearly (@annually), @monthly, @weekly, @daily
//     (@midnight) and @hourly;
//   - "@every d" with a Go duration of whole seconds, at least 1s.
//
// Fields and descriptors are read as wall clock times in loc (nil means
// UTC); a "CRON_TZ=Zone " or "TZ=Zone " prefix names another zone and
// overrides loc. "@every" slots are whole multiples of d since the Unix
// epoch, so they do not depend on the zone, on when the agent started or on
// when the job last ran: "@every 6h" is due at 00:00, 06:00, 12:00 and
// 18:00 UTC (use "0 */6 * * *" for local hours). robfig's own runner counts
// d from its start instead; a fixed grid lets a restarted agent tell which
// slots it missed.
//
// A spec that does not parse, names an unknown zone, has a field that lists
// no values or can never be due (30 February) gives an error that wraps
// [ErrSchedule] and quotes the spec.
func ParseSchedule(spec string, loc *time.Location) (Schedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	body, zone, err := splitZone(strings.TrimSpace(spec))
	if err != nil {
		return Schedule{}, fmt.Errorf("%w %q: %w", ErrSchedule, spec, err)
	}
	if zone != nil {
		loc = zone
	}
	s := Schedule{spec: spec, loc: loc}
	if f := strings.Fields(body); len(f) > 0 && f[0] == "@every" {
		s.every, err = parseEvery(f[1:])
	} else {
		s.cron, err = parseCron(body)
	}
	if err != nil {
		return Schedule{}, fmt.Errorf("%w %q: %w", ErrSchedule, spec, err)
	}
	return s, nil
}

// splitZone removes a leading "CRON_TZ=Zone " or "TZ=Zone " from spec and
// loads the zone; loc is nil when spec has no such prefix.
func splitZone(spec string) (body string, loc *time.Location, err error) {
	if spec == "" {
		return "", nil, errors.New("empty")
	}
	rest, ok := strings.CutPrefix(spec, "CRON_TZ=")
	if !ok {
		if rest, ok = strings.CutPrefix(spec, "TZ="); !ok {
			return spec, nil, nil
		}
	}
	name, body := rest, ""
	if i := strings.IndexFunc(rest, unicode.IsSpace); i >= 0 {
		name, body = rest[:i], strings.TrimSpace(rest[i:])
	}
	switch {
	case name == "":
		return "", nil, errors.New("empty time zone")
	case body == "":
		return "", nil, fmt.Errorf("time zone %s but no schedule", name)
	case strings.HasPrefix(body, "TZ=") || strings.HasPrefix(body, "CRON_TZ="):
		return "", nil, errors.New("more than one time zone")
	}
	if loc, err = time.LoadLocation(name); err != nil {
		return "", nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	return body, loc, nil
}

// parseEvery reads the arguments of "@every".
func parseEvery(args []string) (time.Duration, error) {
	if len(args) != 1 {
		return 0, errors.New(`"@every" takes one duration, such as "@every 6h"`)
	}
	d, err := time.ParseDuration(args[0])
	switch {
	case err != nil:
		return 0, err
	case d < time.Second:
		return 0, fmt.Errorf("interval %v is below 1s", d)
	case d%time.Second != 0:
		return 0, fmt.Errorf("interval %v is not a whole number of seconds", d)
	}
	return d, nil
}

// parseCron reads five fields or a descriptor. The result works on wall
// clock readings written as UTC times; see [Schedule.nextWall].
func parseCron(spec string) (*cron.SpecSchedule, error) {
	if f := strings.Fields(spec); !strings.HasPrefix(spec, "@") {
		if len(f) != 5 {
			return nil, fmt.Errorf("%d fields, want 5: minute hour day-of-month month day-of-week", len(f))
		}
		dow, err := sundaySeven(f[4])
		if err != nil {
			return nil, err
		}
		f[4] = dow
		spec = strings.Join(f, " ")
	}
	parsed, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, err
	}
	sp, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("unexpected schedule type %T", parsed)
	}
	const star = 1 << 63 // robfig's mark of a field written "*"
	for _, bits := range []uint64{sp.Minute, sp.Hour, sp.Dom, sp.Month, sp.Dow} {
		if bits&^star == 0 {
			return nil, errors.New("a field lists no values")
		}
	}
	sp.Location = time.UTC
	if cronNext(sp, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, errors.New("never due: no date matches the day and month fields")
	}
	return sp, nil
}

// cronNext is sp.Next, which gives up after five years, continued for
// twenty: 29 February is eight years from the next one around 2100.
func cronNext(sp *cron.SpecSchedule, after time.Time) time.Time {
	for range 4 {
		if n := sp.Next(after); !n.IsZero() {
			return n
		}
		after = after.AddDate(5, 0, 0)
	}
	return time.Time{}
}

// WithJitter returns s with every slot delayed by d; a negative d is taken
// as 0. It replaces the delay of an earlier WithJitter. See [Jitter] for a
// delay per job.
func (s Schedule) WithJitter(d time.Duration) Schedule {
	s.jitter = max(d, 0)
	return s
}

// Jitter returns the delay set by [Schedule.WithJitter].
func (s Schedule) Jitter() time.Duration { return s.jitter }

// String returns the spec as given to [ParseSchedule].
func (s Schedule) String() string { return s.spec }

// Location returns the zone the schedule is read in; nil for the zero
// Schedule.
func (s Schedule) Location() *time.Location { return s.loc }

// Next returns the first slot of s strictly after after, in the schedule's
// location. It returns the zero Time only for the zero Schedule (and, for a
// schedule due on 29 February alone, more than twenty years ahead).
//
// Slots of fields and descriptors are wall clock times in the schedule's
// zone, delayed by the jitter. Each wall clock time is due once, at its
// first occurrence: on the night the clocks go back, "30 2 * * *" is due at
// the first 02:30 and not again an hour later. Wall clock times that do not
// exist because the clocks go forward are due at the instant of the change:
// in Europe/Berlin, "30 2 * * *" is due at 03:00 CEST on 31 March 2024, and
// "*/15 * * * *" is due once at that instant for 02:00 to 03:00.
func (s Schedule) Next(after time.Time) time.Time {
	switch {
	case s.every > 0:
		return s.nextEvery(after.Add(-s.jitter)).Add(s.jitter)
	case s.cron != nil:
		return s.nextWall(after.Add(-s.jitter)).Add(s.jitter)
	}
	return time.Time{}
}

// nextEvery returns the first whole multiple of s.every since the Unix
// epoch strictly after after.
func (s Schedule) nextEvery(after time.Time) time.Time {
	d := int64(s.every / time.Second)
	k := after.Unix() / d
	if after.Unix()%d < 0 {
		k-- // round towards minus infinity
	}
	return time.Unix((k+1)*d, 0).In(s.loc)
}

// nextWall returns the first instant strictly after after at which a wall
// clock time of s.cron is first read in s.loc.
func (s Schedule) nextWall(after time.Time) time.Time {
	w := wallClock(after, s.loc)
	for {
		if w = cronNext(s.cron, w); w.IsZero() {
			return time.Time{}
		}
		// A wall clock time read in the repeated hour before after was
		// due at its first reading, which is not after after.
		if t := firstReading(w, s.loc); t.After(after) {
			return t
		}
	}
}
