package scheduler

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// The simulation drives a Job as the agent would, with a fake clock: it
// ticks at Job.Wake, ends runs after their duration, stops and restarts the
// agent from the persisted History, and freezes it while the machine
// sleeps. It writes every decision to a trace.

// span is [from, to) in the case's zone, "2006-01-02 15:04".
type span struct{ from, to string }

// slowRun makes the runs that begin within a span take d.
type slowRun struct {
	span
	d time.Duration
}

type simCase struct {
	name     string
	spec     string
	zone     string
	jitter   time.Duration
	opts     Options
	from, to string
	runTime  time.Duration // how long a run takes unless slow says otherwise
	slow     []slowRun
	failing  []span // runs that begin within a span fail after a minute (the repository is down)
	off      []span // the machine is off: the agent stops, a run going is abandoned
	asleep   []span // the machine sleeps: the agent and its run are frozen
	want     []string
	stats    Stats // summed over the starts of the agent
	// policy is applied after each successful run, as the agent does,
	// to the snapshots the runs took (one per success, at its end);
	// survivors are those left at the end, newest first.
	policy    Policy
	survivors []string
}

var simCases = []simCase{
	{
		name: "nightly in Berlin for October 2024",
		spec: "30 2 * * *", zone: "Europe/Berlin",
		opts: Options{Backoff: Backoff{Max: 4 * time.Hour}},
		from: "2024-10-01 00:00", to: "2024-10-31 00:00",
		runTime: 20 * time.Minute,
		failing: []span{
			{"2024-10-03 02:00", "2024-10-03 03:00"}, // back before the retries run out
			{"2024-10-08 02:00", "2024-10-09 02:20"}, // down until the next slot
		},
		off:    []span{{"2024-10-12 12:00", "2024-10-15 09:00"}, {"2024-10-24 02:40", "2024-10-24 08:00"}},
		asleep: []span{{"2024-10-17 01:00", "2024-10-17 07:00"}},
		slow:   []slowRun{{span{"2024-10-20 00:00", "2024-10-20 12:00"}, 25 * time.Hour}},
		want: []string{
			"10-01 02:30 begin scheduled 10-01 02:30 #1",
			"10-02 02:30 begin scheduled 10-02 02:30 #1",
			"10-03 02:30 begin scheduled 10-03 02:30 #1",
			"10-03 02:31 failed",
			"10-03 02:32 begin retry 10-03 02:30 #2",
			"10-03 02:33 failed",
			"10-03 02:35 begin retry 10-03 02:30 #3",
			"10-03 02:36 failed",
			"10-03 02:40 begin retry 10-03 02:30 #4",
			"10-03 02:41 failed",
			"10-03 02:49 begin retry 10-03 02:30 #5",
			"10-03 02:50 failed",
			"10-03 03:06 begin retry 10-03 02:30 #6",
			"10-04 02:30 begin scheduled 10-04 02:30 #1",
			"10-05 02:30 begin scheduled 10-05 02:30 #1",
			"10-06 02:30 begin scheduled 10-06 02:30 #1",
			"10-07 02:30 begin scheduled 10-07 02:30 #1",
			"10-08 02:30 begin scheduled 10-08 02:30 #1",
			"10-08 02:31 failed",
			"10-08 02:32 begin retry 10-08 02:30 #2",
			"10-08 02:33 failed",
			"10-08 02:35 begin retry 10-08 02:30 #3",
			"10-08 02:36 failed",
			"10-08 02:40 begin retry 10-08 02:30 #4",
			"10-08 02:41 failed",
			"10-08 02:49 begin retry 10-08 02:30 #5",
			"10-08 02:50 failed",
			"10-08 03:06 begin retry 10-08 02:30 #6",
			"10-08 03:07 failed",
			"10-08 03:39 begin retry 10-08 02:30 #7",
			"10-08 03:40 failed",
			"10-08 04:44 begin retry 10-08 02:30 #8",
			"10-08 04:45 failed",
			"10-08 06:53 begin retry 10-08 02:30 #9",
			"10-08 06:54 failed",
			"10-08 10:54 begin retry 10-08 02:30 #10",
			"10-08 10:55 failed",
			"10-08 14:55 begin retry 10-08 02:30 #11",
			"10-08 14:56 failed",
			"10-08 18:56 begin retry 10-08 02:30 #12",
			"10-08 18:57 failed",
			"10-08 22:57 begin retry 10-08 02:30 #13",
			"10-08 22:58 failed", // 4h later is past the slot: no retry
			"10-09 02:30 begin scheduled 10-09 02:30 #1",
			"10-10 02:30 begin scheduled 10-10 02:30 #1",
			"10-11 02:30 begin scheduled 10-11 02:30 #1",
			"10-12 02:30 begin scheduled 10-12 02:30 #1",
			"10-12 12:00 off",
			"10-15 09:00 start-up",
			"10-15 09:00 begin catch-up 10-15 02:30 #1", // once for 13, 14 and 15 October
			"10-16 02:30 begin scheduled 10-16 02:30 #1",
			"10-17 01:00 asleep",
			"10-17 07:00 wakes",
			"10-17 07:00 begin catch-up 10-17 02:30 #1",
			"10-18 02:30 begin scheduled 10-18 02:30 #1",
			"10-19 02:30 begin scheduled 10-19 02:30 #1",
			"10-20 02:30 begin scheduled 10-20 02:30 #1", // takes 25 hours
			"10-21 02:30 skip 10-21 02:30",
			"10-22 02:30 begin scheduled 10-22 02:30 #1",
			"10-23 02:30 begin scheduled 10-23 02:30 #1",
			"10-24 02:30 begin scheduled 10-24 02:30 #1",
			"10-24 02:40 off, run abandoned",
			"10-24 08:00 start-up",
			"10-24 08:00 begin retry 10-24 02:30 #2",
			"10-25 02:30 begin scheduled 10-25 02:30 #1",
			"10-26 02:30 begin scheduled 10-26 02:30 #1",
			"10-27 02:30 begin scheduled 10-27 02:30 #1", // the clocks go back at 03:00: once
			"10-28 02:30 begin scheduled 10-28 02:30 #1",
			"10-29 02:30 begin scheduled 10-29 02:30 #1",
			"10-30 02:30 begin scheduled 10-30 02:30 #1",
		},
		stats:  Stats{Runs: 45, CatchUps: 2, Retries: 18, Skips: 1, Failures: 18},
		policy: Policy{Last: 3, Daily: 7, Weekly: 4},
		// 7 days (the 24th's from its retry at 08:00), and the newest of
		// each of 4 ISO weeks: W44 and W43 are among the days; W42's is
		// the 19th (the 25-hour run of the 20th ended on the 21st, in
		// W43); W41's the 12th. Last 3 add nothing.
		survivors: []string{"10-30 02:50", "10-29 02:50", "10-28 02:50", "10-27 02:50", "10-26 02:50",
			"10-25 02:50", "10-24 08:20", "10-19 02:50", "10-12 02:50"},
	},
	{
		name: "every 6h with jitter, slow runs and a repository down for a night",
		spec: "@every 6h", jitter: Jitter("lab1/system", 30*time.Minute), // 24m26s
		from: "2024-05-01 00:00", to: "2024-05-06 01:00",
		runTime: 40 * time.Minute,
		slow: []slowRun{
			{span{"2024-05-02 00:00", "2024-05-02 01:00"}, 13 * time.Hour}, // two slots skipped
			{span{"2024-05-03 06:00", "2024-05-03 07:00"}, 6 * time.Hour},  // ends at the slot, which runs
		},
		failing: []span{{"2024-05-04 18:00", "2024-05-05 02:00"}},
		off:     []span{{"2024-05-05 10:00", "2024-05-05 23:00"}},
		want: []string{
			"05-01 00:24 begin scheduled 05-01 00:24 #1",
			"05-01 06:24 begin scheduled 05-01 06:24 #1",
			"05-01 12:24 begin scheduled 05-01 12:24 #1",
			"05-01 18:24 begin scheduled 05-01 18:24 #1",
			"05-02 00:24 begin scheduled 05-02 00:24 #1",
			"05-02 06:24 skip 05-02 06:24",
			"05-02 12:24 skip 05-02 12:24",
			"05-02 18:24 begin scheduled 05-02 18:24 #1",
			"05-03 00:24 begin scheduled 05-03 00:24 #1",
			"05-03 06:24 begin scheduled 05-03 06:24 #1",
			"05-03 12:24 begin scheduled 05-03 12:24 #1",
			"05-03 18:24 begin scheduled 05-03 18:24 #1",
			"05-04 00:24 begin scheduled 05-04 00:24 #1",
			"05-04 06:24 begin scheduled 05-04 06:24 #1",
			"05-04 12:24 begin scheduled 05-04 12:24 #1",
			"05-04 18:24 begin scheduled 05-04 18:24 #1",
			"05-04 18:25 failed",
			"05-04 18:26 begin retry 05-04 18:24 #2",
			"05-04 18:27 failed",
			"05-04 18:29 begin retry 05-04 18:24 #3",
			"05-04 18:30 failed",
			"05-04 18:34 begin retry 05-04 18:24 #4",
			"05-04 18:35 failed",
			"05-04 18:43 begin retry 05-04 18:24 #5",
			"05-04 18:44 failed",
			"05-04 19:00 begin retry 05-04 18:24 #6",
			"05-04 19:01 failed",
			"05-04 19:33 begin retry 05-04 18:24 #7",
			"05-04 19:34 failed",
			"05-04 20:34 begin retry 05-04 18:24 #8",
			"05-04 20:35 failed",
			"05-04 21:35 begin retry 05-04 18:24 #9",
			"05-04 21:36 failed",
			"05-04 22:36 begin retry 05-04 18:24 #10",
			"05-04 22:37 failed",
			"05-04 23:37 begin retry 05-04 18:24 #11",
			"05-04 23:38 failed", // an hour later is past the slot
			"05-05 00:24 begin scheduled 05-05 00:24 #1",
			"05-05 00:25 failed",
			"05-05 00:26 begin retry 05-05 00:24 #2",
			"05-05 00:27 failed",
			"05-05 00:29 begin retry 05-05 00:24 #3",
			"05-05 00:30 failed",
			"05-05 00:34 begin retry 05-05 00:24 #4",
			"05-05 00:35 failed",
			"05-05 00:43 begin retry 05-05 00:24 #5",
			"05-05 00:44 failed",
			"05-05 01:00 begin retry 05-05 00:24 #6",
			"05-05 01:01 failed",
			"05-05 01:33 begin retry 05-05 00:24 #7",
			"05-05 01:34 failed",
			"05-05 02:34 begin retry 05-05 00:24 #8", // the repository is back
			"05-05 06:24 begin scheduled 05-05 06:24 #1",
			"05-05 10:00 off",
			"05-05 23:00 start-up",
			"05-05 23:00 begin catch-up 05-05 18:24 #1", // once for 12:24 and 18:24
			"05-06 00:24 begin scheduled 05-06 00:24 #1",
		},
		stats: Stats{Runs: 35, CatchUps: 1, Retries: 17, Skips: 2, Failures: 18},
	},
}

func TestSimulation(t *testing.T) {
	for _, c := range simCases {
		t.Run(c.name, func(t *testing.T) {
			got, stats, survivors := simulate(t, c)
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("trace:\n%s", traceDiff(got, c.want))
			}
			if stats != c.stats {
				t.Errorf("stats %+v, want %+v", stats, c.stats)
			}
			if strings.Join(survivors, "\n") != strings.Join(c.survivors, "\n") {
				t.Errorf("survivors:\n%s", traceDiff(survivors, c.survivors))
			}
		})
	}
}

// sim is the state of one simulation.
type sim struct {
	tb    testing.TB
	c     simCase
	sched Schedule
	loc   *time.Location
	now   time.Time
	job   *Job
	total Stats // of the agent's earlier starts
	trace []string

	running bool
	runEnd  time.Time
	runOK   bool
	snaps   []Snapshot // kept by the policy so far
}

func simulate(tb testing.TB, c simCase) ([]string, Stats, []string) {
	tb.Helper()
	s := mustSchedule(tb, c.spec, c.zone).WithJitter(c.jitter)
	m := &sim{tb: tb, c: c, sched: s, loc: s.Location()}
	m.now = m.at(c.from)
	end := m.at(c.to)
	off, asleep := m.spans(c.off), m.spans(c.asleep)
	m.job = NewJob(s, c.opts, History{}, m.now)
	for range 100000 {
		next, done := m.nextEvent()
		switch {
		case len(off) > 0 && !off[0][0].After(next):
			m.stop(off[0][0])
			m.start(off[0][1])
			off = off[1:]
		case len(asleep) > 0 && !asleep[0][0].After(next):
			m.sleep(asleep[0][0], asleep[0][1])
			asleep = asleep[1:]
		case !next.Before(end):
			return m.trace, m.total.Add(m.job.Stats()), m.survivors()
		case done:
			m.now = next
			m.done()
		default:
			m.now = next
			m.tick()
		}
	}
	tb.Fatal("the simulation does not end")
	return nil, Stats{}, nil
}

// retain records the snapshot of a successful run ending now and applies
// the case's policy, as the agent's forget after each snapshot.
func (m *sim) retain() {
	if m.c.policy.Empty() {
		return
	}
	all := append(m.snaps, Snapshot{ID: m.now.Format(time.RFC3339), Time: m.now})
	m.snaps = nil
	for _, d := range Apply(m.c.policy, all, m.loc) {
		if d.Keep {
			m.snaps = append(m.snaps, d.Snapshot)
		}
	}
	slices.Reverse(m.snaps) // oldest first again
}

// survivors lists the snapshots left, newest first, as "01-02 15:04".
func (m *sim) survivors() []string {
	var out []string
	for i := len(m.snaps) - 1; i >= 0; i-- {
		out = append(out, m.snaps[i].Time.In(m.loc).Format("01-02 15:04"))
	}
	return out
}

// nextEvent returns when the next tick or end of a run comes, and whether
// it is the end of a run, which goes first when both come at once.
func (m *sim) nextEvent() (time.Time, bool) {
	next := m.job.Wake()
	if next.IsZero() {
		m.tb.Fatal("Wake: nothing ahead")
	}
	next = maxTime(next, m.now)
	if m.running && !m.runEnd.After(next) {
		return m.runEnd, true
	}
	return next, false
}

func (m *sim) tick() {
	st := m.job.Tick(m.now)
	switch st.Action {
	case Begin:
		m.running, m.runEnd, m.runOK = true, m.now.Add(m.runTime(m.now)), true
		if m.inSpans(m.c.failing, m.now) {
			m.runEnd, m.runOK = m.now.Add(time.Minute), false
		}
	case Skip:
	case Idle:
		m.tb.Fatalf("%v: Tick at Wake did nothing", m.now)
	}
	m.log(m.now, stepString(st, m.loc))
}

func (m *sim) done() {
	st := m.job.Done(m.now, m.runOK)
	m.running = false
	if !m.runOK {
		m.log(m.now, "failed")
	} else {
		m.retain()
	}
	if st.Action != Idle {
		m.log(m.now, stepString(st, m.loc))
	}
}

// stop is the machine going off: the job's state is lost but for History.
func (m *sim) stop(t time.Time) {
	if m.running {
		m.log(t, "off, run abandoned")
	} else {
		m.log(t, "off")
	}
	m.running = false
	m.total = m.total.Add(m.job.Stats())
}

func (m *sim) start(t time.Time) {
	m.now = t
	m.job = NewJob(m.sched, m.c.opts, m.job.History(), t)
	m.log(t, "start-up")
}

// sleep freezes the agent and its run from from to to.
func (m *sim) sleep(from, to time.Time) {
	m.log(from, "asleep")
	if m.running {
		m.runEnd = m.runEnd.Add(to.Sub(from))
	}
	m.now = to
	m.log(to, "wakes")
}

func (m *sim) runTime(begin time.Time) time.Duration {
	for _, s := range m.c.slow {
		if m.inSpans([]span{s.span}, begin) {
			return s.d
		}
	}
	return m.c.runTime
}

func (m *sim) inSpans(spans []span, t time.Time) bool {
	for _, s := range m.spans(spans) {
		if !t.Before(s[0]) && t.Before(s[1]) {
			return true
		}
	}
	return false
}

func (m *sim) spans(spans []span) [][2]time.Time {
	var ts [][2]time.Time
	for _, s := range spans {
		ts = append(ts, [2]time.Time{m.at(s.from), m.at(s.to)})
	}
	return ts
}

func (m *sim) at(s string) time.Time { return at(m.tb, m.loc, s) }

func (m *sim) log(t time.Time, msg string) {
	m.trace = append(m.trace, t.In(m.loc).Format("01-02 15:04")+" "+msg)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// traceDiff lists the lines of got and want side by side from the first
// difference on.
func traceDiff(got, want []string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	var b strings.Builder
	for k := i; k < max(len(got), len(want)) && k < i+15; k++ {
		g, w := "", ""
		if k < len(got) {
			g = got[k]
		}
		if k < len(want) {
			w = want[k]
		}
		mark := " "
		if g != w {
			mark = "!"
		}
		b.WriteString(mark + " got " + g + strings.Repeat(" ", max(0, 50-len(g))) + " want " + w + "\n")
	}
	return b.String()
}
