package scheduler

import (
	"fmt"
	"testing"
	"time"
)

// stepString writes a Step as the job tests spell it: "idle",
// "begin catch-up 05-03 02:30 #1", "skip 05-03 02:30"; a zero slot is "-".
func stepString(st Step, loc *time.Location) string {
	slot := "-"
	if !st.Run.Slot.IsZero() {
		slot = st.Run.Slot.In(loc).Format("01-02 15:04")
	}
	switch st.Action {
	case Idle:
		return "idle"
	case Begin:
		return fmt.Sprintf("begin %s %s #%d", st.Run.Kind, slot, st.Run.Attempt)
	case Skip:
		return "skip " + slot
	}
	return fmt.Sprintf("action %d", st.Action)
}

// wakeString writes Job.Wake as the job tests spell it.
func wakeString(w time.Time, loc *time.Location) string {
	if w.IsZero() {
		return "never"
	}
	return w.In(loc).Format("2006-01-02 15:04")
}

// jobEvent is one event fed to a Job, or a question put to it.
type jobEvent struct {
	at   string // when, "2006-01-02 15:04" in the case's zone; ignored by "wake"
	do   string // "tick", "ok" or "fail" (Done), "wake", or "restart" (NewJob from Job.History)
	want string // the Step (see stepString), or for "wake" the time (see wakeString)
}

var jobCases = []struct {
	name    string
	spec    string
	opts    Options
	history [2]string // LastRun, LastSuccess; "" is the zero Time
	start   string
	events  []jobEvent
	stats   Stats
}{
	{
		name: "first start waits for the first slot",
		spec: "30 2 * * *", start: "2024-05-03 09:00",
		events: []jobEvent{
			{"2024-05-03 09:00", "tick", "idle"},
			{"", "wake", "2024-05-04 02:30"},
			{"2024-05-04 02:29", "tick", "idle"},
			{"2024-05-04 02:30", "tick", "begin scheduled 05-04 02:30 #1"},
			{"", "wake", "2024-05-05 02:30"},
			{"2024-05-04 02:50", "ok", "idle"},
			{"2024-05-04 02:50", "tick", "idle"},
		},
		stats: Stats{Runs: 1},
	},
	{
		name: "three days off: one catch-up at start-up",
		spec: "30 2 * * *", history: [2]string{"2024-05-03 02:30", "2024-05-03 02:50"}, start: "2024-05-06 09:00",
		events: []jobEvent{
			{"", "wake", "2024-05-04 02:30"}, // in the past: tick now
			{"2024-05-06 09:00", "tick", "begin catch-up 05-06 02:30 #1"},
			{"2024-05-06 09:20", "ok", "idle"},
			{"2024-05-06 09:20", "tick", "idle"},
			{"", "wake", "2024-05-07 02:30"},
			{"2024-05-07 02:30", "tick", "begin scheduled 05-07 02:30 #1"},
		},
		stats: Stats{Runs: 2, CatchUps: 1},
	},
	{
		name: "start-up within the grace of a slot takes it as scheduled",
		spec: "30 2 * * *", history: [2]string{"2024-05-03 02:30", "2024-05-03 02:50"}, start: "2024-05-04 02:31",
		events: []jobEvent{
			{"2024-05-04 02:31", "tick", "begin scheduled 05-04 02:30 #1"},
		},
		stats: Stats{Runs: 1},
	},
	{
		name: "grace is an option",
		spec: "30 2 * * *", opts: Options{Grace: 10 * time.Second},
		history: [2]string{"2024-05-03 02:30", "2024-05-03 02:50"}, start: "2024-05-04 02:31",
		events: []jobEvent{
			{"2024-05-04 02:31", "tick", "begin catch-up 05-04 02:30 #1"},
		},
		stats: Stats{Runs: 1, CatchUps: 1},
	},
	{
		name: "asleep without a restart: one catch-up at wake-up",
		spec: "0 * * * *", start: "2024-05-03 09:30",
		events: []jobEvent{
			{"2024-05-03 10:00", "tick", "begin scheduled 05-03 10:00 #1"},
			{"2024-05-03 10:05", "ok", "idle"},
			{"2024-05-03 15:42", "tick", "begin catch-up 05-03 15:00 #1"},
			{"2024-05-03 15:50", "ok", "idle"},
			{"", "wake", "2024-05-03 16:00"},
		},
		stats: Stats{Runs: 2, CatchUps: 1},
	},
	{
		name: "a slot during a run is skipped and not taken afterwards",
		spec: "0 * * * *", start: "2024-05-03 09:30",
		events: []jobEvent{
			{"2024-05-03 10:00", "tick", "begin scheduled 05-03 10:00 #1"},
			{"", "wake", "2024-05-03 11:00"},
			{"2024-05-03 11:00", "tick", "skip 05-03 11:00"},
			{"2024-05-03 12:00", "tick", "skip 05-03 12:00"},
			{"2024-05-03 12:10", "tick", "idle"},
			{"2024-05-03 12:15", "ok", "idle"},
			{"2024-05-03 12:15", "tick", "idle"},
			{"", "wake", "2024-05-03 13:00"},
			{"2024-05-03 13:00", "tick", "begin scheduled 05-03 13:00 #1"},
		},
		stats: Stats{Runs: 2, Skips: 2},
	},
	{
		name: "slots no tick saw during a run are skipped by Done, once",
		spec: "0 * * * *", start: "2024-05-03 09:30",
		events: []jobEvent{
			{"2024-05-03 10:00", "tick", "begin scheduled 05-03 10:00 #1"},
			{"2024-05-03 12:59", "ok", "skip 05-03 12:00"},
			{"2024-05-03 12:59", "tick", "idle"},
			{"2024-05-03 13:00", "tick", "begin scheduled 05-03 13:00 #1"},
		},
		stats: Stats{Runs: 2, Skips: 1},
	},
	{
		name: "a slot at the end of a run is taken",
		spec: "0 * * * *", start: "2024-05-03 09:30",
		events: []jobEvent{
			{"2024-05-03 10:00", "tick", "begin scheduled 05-03 10:00 #1"},
			{"2024-05-03 11:00", "ok", "idle"},
			{"2024-05-03 11:00", "tick", "begin scheduled 05-03 11:00 #1"},
		},
		stats: Stats{Runs: 2},
	},
	{
		name: "a failed run is retried with backoff until it succeeds",
		spec: "30 2 * * *", start: "2024-05-03 09:00",
		events: []jobEvent{
			{"2024-05-04 02:30", "tick", "begin scheduled 05-04 02:30 #1"},
			{"2024-05-04 02:31", "fail", "idle"},
			{"", "wake", "2024-05-04 02:32"},
			{"2024-05-04 02:31", "tick", "idle"},
			{"2024-05-04 02:32", "tick", "begin retry 05-04 02:30 #2"},
			{"2024-05-04 02:33", "fail", "idle"},
			{"", "wake", "2024-05-04 02:35"},
			{"2024-05-04 02:35", "tick", "begin retry 05-04 02:30 #3"},
			{"2024-05-04 02:36", "fail", "idle"},
			{"", "wake", "2024-05-04 02:40"},
			{"2024-05-04 02:40", "tick", "begin retry 05-04 02:30 #4"},
			{"2024-05-04 02:50", "ok", "idle"},
			{"", "wake", "2024-05-05 02:30"},
			{"2024-05-05 02:30", "tick", "begin scheduled 05-05 02:30 #1"},
			{"2024-05-05 02:31", "fail", "idle"},
			{"", "wake", "2024-05-05 02:32"}, // the backoff starts over
		},
		stats: Stats{Runs: 5, Retries: 3, Failures: 4},
	},
	{
		name: "retries stop at the next slot, which takes over",
		spec: "0 * * * *", start: "2024-05-03 09:30",
		events: []jobEvent{
			{"2024-05-03 10:00", "tick", "begin scheduled 05-03 10:00 #1"},
			{"2024-05-03 10:01", "fail", "idle"},
			{"2024-05-03 10:02", "tick", "begin retry 05-03 10:00 #2"},
			{"2024-05-03 10:03", "fail", "idle"},
			{"2024-05-03 10:05", "tick", "begin retry 05-03 10:00 #3"},
			{"2024-05-03 10:06", "fail", "idle"},
			{"2024-05-03 10:10", "tick", "begin retry 05-03 10:00 #4"},
			{"2024-05-03 10:11", "fail", "idle"},
			{"2024-05-03 10:19", "tick", "begin retry 05-03 10:00 #5"},
			{"2024-05-03 10:20", "fail", "idle"},
			{"2024-05-03 10:36", "tick", "begin retry 05-03 10:00 #6"},
			{"2024-05-03 10:37", "fail", "idle"}, // 32m later is 11:09, past the slot
			{"", "wake", "2024-05-03 11:00"},
			{"2024-05-03 11:00", "tick", "begin scheduled 05-03 11:00 #1"},
			{"2024-05-03 11:01", "fail", "idle"},
			{"", "wake", "2024-05-03 11:02"},
		},
		stats: Stats{Runs: 7, Retries: 5, Failures: 7},
	},
	{
		name: "a due slot wins over a due retry",
		spec: "0 * * * *", opts: Options{Backoff: Backoff{Initial: 30 * time.Minute}}, start: "2024-05-03 09:30",
		events: []jobEvent{
			{"2024-05-03 10:00", "tick", "begin scheduled 05-03 10:00 #1"},
			{"2024-05-03 10:20", "fail", "idle"},
			{"", "wake", "2024-05-03 10:50"},
			{"2024-05-03 11:30", "tick", "begin catch-up 05-03 11:00 #1"}, // slept through both
			{"2024-05-03 11:40", "ok", "idle"},
			{"2024-05-03 11:40", "tick", "idle"},
		},
		stats: Stats{Runs: 2, CatchUps: 1, Failures: 1},
	},
	{
		name: "a failed last run is retried at start-up",
		spec: "30 2 * * *", history: [2]string{"2024-05-03 02:30", "2024-05-02 02:50"}, start: "2024-05-03 09:00",
		events: []jobEvent{
			{"", "wake", "2024-05-03 02:31"},
			{"2024-05-03 09:00", "tick", "begin retry 05-03 02:30 #2"},
			{"2024-05-03 09:01", "fail", "idle"},
			{"", "wake", "2024-05-03 09:03"},
			{"2024-05-03 09:03", "tick", "begin retry 05-03 02:30 #3"},
			{"2024-05-03 09:30", "ok", "idle"},
			{"", "wake", "2024-05-04 02:30"},
		},
		stats: Stats{Runs: 2, Retries: 2, Failures: 1},
	},
	{
		name: "a run cut short by a stop is retried after the backoff",
		spec: "30 2 * * *", history: [2]string{"2024-05-03 02:30", ""}, start: "2024-05-03 02:30",
		events: []jobEvent{
			{"2024-05-03 02:30", "tick", "idle"},
			{"", "wake", "2024-05-03 02:31"},
			{"2024-05-03 02:31", "tick", "begin retry 05-03 02:30 #2"},
		},
		stats: Stats{Runs: 1, Retries: 1},
	},
	{
		name: "a failed last run and missed slots: the catch-up takes over",
		spec: "30 2 * * *", history: [2]string{"2024-05-03 02:30", "2024-05-02 02:50"}, start: "2024-05-05 09:00",
		events: []jobEvent{
			{"2024-05-05 09:00", "tick", "begin catch-up 05-05 02:30 #1"},
			{"2024-05-05 09:20", "ok", "idle"},
			{"2024-05-05 09:20", "tick", "idle"},
			{"", "wake", "2024-05-06 02:30"},
		},
		stats: Stats{Runs: 1, CatchUps: 1},
	},
	{
		name: "a last run in the future is ignored",
		spec: "30 2 * * *", history: [2]string{"2030-01-01 02:30", "2030-01-01 02:50"}, start: "2024-05-03 09:00",
		events: []jobEvent{
			{"2024-05-03 09:00", "tick", "idle"},
			{"", "wake", "2024-05-04 02:30"},
		},
	},
	{
		name: "the history carries over a restart",
		spec: "30 2 * * *", start: "2024-05-03 09:00",
		events: []jobEvent{
			{"2024-05-04 02:30", "tick", "begin scheduled 05-04 02:30 #1"},
			{"2024-05-04 02:50", "ok", "idle"},
			{"2024-05-04 12:00", "restart", "idle"},
			{"2024-05-07 12:00", "restart", "idle"},
			{"2024-05-07 12:00", "tick", "begin catch-up 05-07 02:30 #1"},
			{"2024-05-07 12:10", "restart", "idle"}, // stopped during the run
			{"", "wake", "2024-05-07 12:01"},
			{"2024-05-07 12:10", "tick", "begin retry 05-07 02:30 #2"},
		},
		stats: Stats{Runs: 1, Retries: 1}, // since the last restart
	},
	{
		name: "a slot skipped during a failed retry takes over its retries",
		spec: "0 * * * *", start: "2024-05-03 09:30",
		events: []jobEvent{
			{"2024-05-03 10:00", "tick", "begin scheduled 05-03 10:00 #1"},
			{"2024-05-03 10:05", "fail", "idle"},
			{"2024-05-03 10:06", "tick", "begin retry 05-03 10:00 #2"},
			{"2024-05-03 11:00", "tick", "skip 05-03 11:00"},
			{"2024-05-03 11:10", "fail", "idle"},
			{"", "wake", "2024-05-03 11:11"}, // no retry of 10:00 past 11:00: one of 11:00
			{"2024-05-03 11:11", "tick", "begin retry 05-03 11:00 #2"},
			{"2024-05-03 11:50", "fail", "idle"},
			{"", "wake", "2024-05-03 11:52"},
			{"2024-05-03 11:52", "tick", "begin retry 05-03 11:00 #3"},
			{"2024-05-03 11:57", "fail", "idle"},
			{"", "wake", "2024-05-03 12:00"}, // 4 minutes on would pass it
			{"2024-05-03 12:00", "tick", "begin scheduled 05-03 12:00 #1"},
		},
		stats: Stats{Runs: 5, Retries: 3, Failures: 4, Skips: 1},
	},
	{
		// After a restart the job's consumed time is the last run's, not a
		// slot: a retry failing then kept its slot and its count (it took
		// the run's time for a skipped slot, "retry 05-03 10:06 #2").
		name: "a retry after a restart fails: the slot and the count go on",
		spec: "0 * * * *", start: "2024-05-03 09:30",
		events: []jobEvent{
			{"2024-05-03 10:00", "tick", "begin scheduled 05-03 10:00 #1"},
			{"2024-05-03 10:05", "fail", "idle"},
			{"2024-05-03 10:06", "tick", "begin retry 05-03 10:00 #2"},
			{"2024-05-03 10:07", "restart", "idle"}, // stopped during the retry
			{"2024-05-03 10:08", "tick", "begin retry 05-03 10:00 #2"},
			{"2024-05-03 10:09", "fail", "idle"},
			{"", "wake", "2024-05-03 10:11"},
			{"2024-05-03 10:11", "tick", "begin retry 05-03 10:00 #3"},
		},
		stats: Stats{Runs: 2, Retries: 2, Failures: 1}, // since the last restart
	},
	{
		// A run that fails after the next slot, which it skipped (a hanging
		// server): it was not retried before the slot after.
		name: "a failed run longer than the interval is retried before the next slot to come",
		spec: "0 * * * *", start: "2024-05-03 09:30",
		events: []jobEvent{
			{"2024-05-03 10:00", "tick", "begin scheduled 05-03 10:00 #1"},
			{"2024-05-03 11:00", "tick", "skip 05-03 11:00"},
			{"2024-05-03 11:05", "fail", "idle"},
			{"", "wake", "2024-05-03 11:06"},
			{"2024-05-03 11:06", "tick", "begin retry 05-03 11:00 #2"},
			{"2024-05-03 11:07", "ok", "idle"},
			{"2024-05-03 12:00", "tick", "begin scheduled 05-03 12:00 #1"},
		},
		stats: Stats{Runs: 3, Retries: 1, Failures: 1, Skips: 1},
	},
	{
		name: "Done without a run does nothing",
		spec: "30 2 * * *", start: "2024-05-03 09:00",
		events: []jobEvent{
			{"2024-05-03 09:10", "fail", "idle"},
			{"", "wake", "2024-05-04 02:30"},
		},
	},
}

func TestJob(t *testing.T) {
	for _, c := range jobCases {
		t.Run(c.name, func(t *testing.T) {
			s := mustSchedule(t, c.spec, "")
			loc := s.Location()
			var h History
			if c.history[0] != "" {
				h.LastRun = at(t, loc, c.history[0])
			}
			if c.history[1] != "" {
				h.LastSuccess = at(t, loc, c.history[1])
			}
			j := NewJob(s, c.opts, h, at(t, loc, c.start))
			for i, e := range c.events {
				var got string
				switch e.do {
				case "tick":
					got = stepString(j.Tick(at(t, loc, e.at)), loc)
				case "ok", "fail":
					got = stepString(j.Done(at(t, loc, e.at), e.do == "ok"), loc)
				case "wake":
					got = wakeString(j.Wake(), loc)
				case "restart":
					j, got = NewJob(s, c.opts, j.History(), at(t, loc, e.at)), "idle"
				default:
					t.Fatalf("event %d: unknown %q", i, e.do)
				}
				if got != e.want {
					t.Errorf("event %d, %s at %s: got %q, want %q", i, e.do, e.at, got, e.want)
				}
			}
			if got := j.Stats(); got != c.stats {
				t.Errorf("stats %+v, want %+v", got, c.stats)
			}
		})
	}
}

func TestJobRunningAndHistory(t *testing.T) {
	s := mustSchedule(t, "0 * * * *", "")
	t0 := time.Date(2024, 5, 3, 9, 30, 0, 0, time.UTC)
	j := NewJob(s, Options{}, History{}, t0)
	if j.Running() {
		t.Fatal("running before any Begin")
	}
	j.Tick(t0.Add(30 * time.Minute))
	if !j.Running() {
		t.Fatal("not running after Begin")
	}
	if h := j.History(); !h.LastRun.Equal(t0.Add(30*time.Minute)) || !h.LastSuccess.IsZero() {
		t.Errorf("history after Begin: %+v", h)
	}
	j.Done(t0.Add(40*time.Minute), true)
	if j.Running() {
		t.Fatal("running after Done")
	}
	if h := j.History(); !h.LastSuccess.Equal(t0.Add(40 * time.Minute)) {
		t.Errorf("history after Done: %+v", h)
	}
}

func TestKindAndActionStrings(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{Scheduled.String(), "scheduled"}, {CatchUp.String(), "catch-up"}, {Retry.String(), "retry"},
		{Kind(0).String(), "kind(?)"},
		{Idle.String(), "idle"}, {Begin.String(), "begin"}, {Skip.String(), "skip"}, {Action(9).String(), "action(?)"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
