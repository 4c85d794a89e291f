package scheduler

import "time"

// DefaultGrace is the default of [Options.Grace].
const DefaultGrace = time.Minute

// Kind says why a run begins.
type Kind int

// The kinds of run.
const (
	// Scheduled is a slot taken on time, at most Options.Grace after it.
	Scheduled Kind = iota + 1
	// CatchUp is a slot taken late: the agent was stopped, or the
	// machine slept, when it came. However many slots passed, one run
	// serves the latest of them.
	CatchUp
	// Retry is another attempt at a slot after a failed run.
	Retry
)

func (k Kind) String() string {
	switch k {
	case Scheduled:
		return "scheduled"
	case CatchUp:
		return "catch-up"
	case Retry:
		return "retry"
	}
	return "kind(?)"
}

// Action is what a [Job] tells its caller to do.
type Action int

// The actions.
const (
	// Idle: nothing to do now.
	Idle Action = iota
	// Begin: begin Step.Run now and report its end with [Job.Done].
	Begin
	// Skip: Step.Run was due while the job's previous run was still
	// going; it is not taken. The caller logs it.
	Skip
)

func (a Action) String() string {
	switch a {
	case Idle:
		return "idle"
	case Begin:
		return "begin"
	case Skip:
		return "skip"
	}
	return "action(?)"
}

// Step is a decision of a [Job].
type Step struct {
	Action Action
	Run    Run // the run to begin or skipped; the zero Run when Idle
}

// Run describes a run of a job.
type Run struct {
	Kind Kind
	// Slot is the slot the run serves: the latest one when several
	// passed, the failed run's slot for a retry. It is the zero Time for
	// a retry at start-up of a run whose slot is more than twenty years
	// back.
	Slot time.Time
	// Attempt is 1 for the first run of a slot and n+1 for its n-th
	// retry. Failures before a start of the agent are not kept: a retry
	// at start-up is attempt 2.
	Attempt int
}

// History is what the caller persists between starts of the agent, from
// [Job.History], and hands to [NewJob].
type History struct {
	LastRun     time.Time // when the job's last run began, of any kind; zero: never
	LastSuccess time.Time // when its last successful run ended; zero: never
}

// Stats counts the decisions of a [Job] since [NewJob].
type Stats struct {
	Runs     int `json:"runs"`      // runs begun, of every kind
	CatchUps int `json:"catch_ups"` // runs begun of kind CatchUp
	Retries  int `json:"retries"`   // runs begun of kind Retry
	Skips    int `json:"skips"`     // slots skipped because a run was still going
	Failures int `json:"failures"`  // runs that ended in failure
}

// Add returns the sum of s and o.
func (s Stats) Add(o Stats) Stats {
	return Stats{Runs: s.Runs + o.Runs, CatchUps: s.CatchUps + o.CatchUps, Retries: s.Retries + o.Retries,
		Skips: s.Skips + o.Skips, Failures: s.Failures + o.Failures}
}

// Options tune a [Job]. The zero Options are the defaults.
type Options struct {
	// Backoff spaces the retries of a failed run; see [Backoff].
	Backoff Backoff
	// Grace is how late a slot may be taken and still be Scheduled
	// rather than a CatchUp; 0 or less means DefaultGrace (1m).
	Grace time.Duration
}

func (o Options) withDefaults() Options {
	o.Backoff = o.Backoff.withDefaults()
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	return o
}

// Job decides when one job of the agent runs. It is a pure state machine:
// it reads no clock and starts no timer. The caller feeds it events with
// their time: the agent's start ([NewJob]), the clock ([Job.Tick], at
// [Job.Wake] and whenever it likes) and the end of a run ([Job.Done]), and
// does what the returned [Step] says.
//
// The rules:
//   - A slot is taken when Tick sees it. Slots that passed together (the
//     machine slept, the agent was stopped) are taken once, as one run
//     for the latest of them (see [Missed]).
//   - Never two runs at once: a slot that comes while a run is going is
//     skipped and counted, and is not taken after the run either.
//   - A failed run is retried with [Backoff] until a retry succeeds or
//     the next slot comes; the slot then takes over (see
//     [Backoff.RetryAt]). A slot skipped while the failed run went on
//     is the one its retries serve, as from its first failure, until the
//     slot after it.
//
// Times are compared as instants; a clock that goes back delays slots
// already consumed but never repeats them. A Job is not safe for
// concurrent use.
type Job struct {
	sched    Schedule
	opts     Options
	hist     History
	after    time.Time // slots up to here are consumed: run, skipped or caught up
	running  bool
	slot     time.Time // the slot of the current or last run
	failures int       // consecutive failed attempts at slot
	retryAt  time.Time // when to retry; zero when no retry is pending
	stats    Stats
}

// NewJob returns the state of a job at the start of the agent, at now,
// from the history the agent persisted. Slots after h.LastRun that passed
// before now are caught up once at the first Tick. A job that never ran
// (zero h.LastRun), or whose last run lies in the future (the clock went
// back), waits for its next slot after now. A last run that did not
// succeed (h.LastSuccess before h.LastRun: it failed, or the agent stopped
// during it) is retried as after a first failure at h.LastRun, which is at
// the first Tick when that time has passed, unless a slot comes first.
func NewJob(s Schedule, o Options, h History, now time.Time) *Job {
	j := &Job{sched: s, opts: o.withDefaults(), hist: h, after: h.LastRun}
	if h.LastRun.IsZero() || h.LastRun.After(now) {
		j.after = now
		return j
	}
	if h.LastSuccess.Before(h.LastRun) {
		j.slot = s.previous(h.LastRun)
		j.failures = 1
		j.retryAt, _ = j.opts.Backoff.RetryAt(1, h.LastRun, s.Next(j.after))
	}
	return j
}

// Tick tells the job the time. It returns Begin with the run to begin now,
// Skip when a slot came while a run is going, or Idle. A due slot comes
// before a pending retry, and a run that begins drops the retry.
func (j *Job) Tick(now time.Time) Step {
	if slot, ok := Missed(j.sched, j.after, now); ok {
		j.after = slot
		run := Run{Kind: j.kind(slot, now), Slot: slot, Attempt: 1}
		if j.running {
			j.stats.Skips++
			return Step{Action: Skip, Run: run}
		}
		j.failures = 0
		return j.begin(now, run)
	}
	if !j.running && !j.retryAt.IsZero() && !now.Before(j.retryAt) {
		return j.begin(now, Run{Kind: Retry, Slot: j.slot, Attempt: j.failures + 1})
	}
	return Step{}
}

// kind tells a slot taken on time from a catch-up.
func (j *Job) kind(slot, now time.Time) Kind {
	if now.Sub(slot) > j.opts.Grace {
		return CatchUp
	}
	return Scheduled
}

func (j *Job) begin(now time.Time, r Run) Step {
	j.running = true
	j.slot = r.Slot
	j.retryAt = time.Time{}
	j.hist.LastRun = now
	j.stats.Runs++
	switch r.Kind {
	case CatchUp:
		j.stats.CatchUps++
	case Retry:
		j.stats.Retries++
	case Scheduled:
	}
	return Step{Action: Begin, Run: r}
}

// Done tells the job that the run begun by the last Begin ended at now,
// successfully or not. A failed run gets a retry unless the next slot
// comes first. Slots that came during the run and that no Tick saw are
// skipped here, and Done returns Skip for the latest of them (Idle
// otherwise); a slot at now itself is left to the next Tick, which takes
// it. Done without a run going does nothing and returns Idle.
func (j *Job) Done(now time.Time, ok bool) Step {
	if !j.running {
		return Step{}
	}
	step := j.skipMissedDuringRun(now)
	j.running = false
	if ok {
		j.hist.LastSuccess = now
		j.failures = 0
		return step
	}
	j.stats.Failures++
	j.failures++
	if next := j.sched.Next(j.slot); !next.IsZero() && !next.After(j.after) {
		// Slots came while the failed run went on and were skipped: the
		// latest is the slot its retries now serve, as from its first
		// failure. Retries of the older slot never go past it. (j.after
		// is a run's time, not a slot, after a restart: hence Next.)
		j.slot, j.failures = j.sched.previous(j.after), 1
	}
	j.retryAt, _ = j.opts.Backoff.RetryAt(j.failures, now, j.sched.Next(j.slot))
	return step
}

// skipMissedDuringRun consumes the slots before now that passed during the
// run unseen by Tick.
func (j *Job) skipMissedDuringRun(now time.Time) Step {
	slot, ok := Missed(j.sched, j.after, now.Add(-time.Nanosecond))
	if !ok {
		return Step{}
	}
	j.after = slot
	j.stats.Skips++
	return Step{Action: Skip, Run: Run{Kind: j.kind(slot, now), Slot: slot, Attempt: 1}}
}

// Wake returns when the caller should next call Tick: the next slot, or a
// pending retry if it comes first; while a run is going, the next slot
// (whose Tick will say Skip). A time in the past means now. It returns the
// zero Time when nothing is ahead (the zero Schedule). The next run shown
// on a status page is Wake when no run is going.
func (j *Job) Wake() time.Time {
	next := j.sched.Next(j.after)
	if j.running || j.retryAt.IsZero() {
		return next
	}
	if next.IsZero() || j.retryAt.Before(next) {
		return j.retryAt
	}
	return next
}

// Running reports whether a run is going: Tick said Begin and Done was not
// called yet.
func (j *Job) Running() bool { return j.running }

// History returns what the caller persists after every Begin and Done.
func (j *Job) History() History { return j.hist }

// Stats returns the counts since [NewJob].
func (j *Job) Stats() Stats { return j.stats }
