package main

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/wimsnap/wimsnap/scheduler"
)

// Bounds of the agent loop's sleep: it wakes at least every maxNap to
// read the wall clock (timers do not count the time a machine sleeps),
// and sleeps at least minNap so that a clock in trouble cannot spin it.
const (
	maxNap = 30 * time.Second
	minNap = 50 * time.Millisecond
	// stopWait bounds how long a stopping agent waits for its runs to
	// finish or abandon; post hooks get shutdownHookGrace within it.
	stopWait = shutdownHookGrace + 10*time.Second
)

// agent is the running agent: its tasks' schedules and runs. Its loop
// owns every field; runs report back on done.
type agent struct {
	app       *app
	cfg       *agentConfig
	log       *slog.Logger
	tasks     map[string]*task
	state     *agentState
	statePath string
	lock      *agentLock // of the state file, held until the agent exits
	board     *board
	done      chan outcome
	running   int
}

// task is one task of the agent.
type task struct {
	cfg     *taskConfig
	job     *scheduler.Job
	cancel  context.CancelFunc // of the run going; nil when none
	pending *taskConfig        // a reload's config, applied when the run ends
	removed bool               // a reload dropped the task: drop it when the run ends
	base    scheduler.Stats    // counts of the task's jobs before a reload replaced its job
	// left are the sources of a snapshot job that its last run, failed or
	// interrupted, did not take; a retry takes only those.
	left []string
}

// loop runs the agent until ctx is done, then stops its runs and returns.
// A value on reload asks it to read its config again.
func (ag *agent) loop(ctx context.Context, reload <-chan os.Signal) {
	runCtx, stopRuns := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopRuns(nil)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		ag.tick(runCtx)
		timer.Reset(ag.nap())
		select {
		case <-ctx.Done():
			ag.stop(stopRuns)
			return
		case o := <-ag.done:
			ag.finish(o)
		case <-reload:
			ag.reload()
		case <-timer.C:
		}
	}
}

// tick asks every task whether to begin a run now, and begins it.
func (ag *agent) tick(ctx context.Context) {
	now := ag.app.now()
	for _, name := range ag.names() {
		t := ag.tasks[name]
		if t.removed {
			continue
		}
		step := t.job.Tick(now)
		switch step.Action {
		case scheduler.Begin:
			ag.begin(ctx, t, step.Run, now)
		case scheduler.Skip:
			ag.log.Warn("run skipped: the previous run is still going", "job", name, "slot", step.Run.Slot)
		case scheduler.Idle:
		}
		ag.show(t)
	}
}

// nap returns how long to sleep until the next task wakes.
func (ag *agent) nap() time.Duration {
	now := ag.app.now()
	d := maxNap
	for _, t := range ag.tasks {
		if w := t.job.Wake(); !w.IsZero() {
			d = min(d, w.Sub(now))
		}
	}
	return max(d, minNap)
}

// begin starts a run of t in its own goroutine.
func (ag *agent) begin(ctx context.Context, t *task, run scheduler.Run, now time.Time) {
	rctx, cancel := context.WithCancel(ctx)
	t.cancel = cancel
	ag.running++
	st := ag.taskState(t.cfg.name)
	st.LastRun, st.Running = now, true
	ag.saveState()
	ag.board.update(t.cfg.name, func(ts *taskStatus) { ts.RunStarted = now })
	ag.log.Debug("run started", "job", t.cfg.name, "trigger", run.Kind.String(), "attempt", run.Attempt, "slot", run.Slot)
	part := 0
	if t.cfg.parts > 0 {
		part = st.Part%t.cfg.parts + 1
	}
	var only []string // nil: every source
	if run.Kind == scheduler.Retry {
		only = t.left
	}
	cfg, r := t.cfg, &runner{parent: ag.app, cfg: ag.cfg, log: ag.log}
	go func() { ag.done <- r.execute(rctx, cfg, run, part, only) }()
}

// finish records the end of a run: in the task's schedule, the state file,
// the status board and the log, in that order.
func (ag *agent) finish(o outcome) {
	ag.running--
	t := ag.tasks[o.task]
	t.cancel()
	t.cancel = nil
	ok := o.result == resultSuccess || o.result == resultPartial
	t.left = nil
	if !ok {
		t.left = o.left
	}
	if skip := t.job.Done(o.end, ok); skip.Action == scheduler.Skip {
		ag.log.Warn("run skipped: the previous run was still going", "job", o.task, "slot", skip.Run.Slot)
	}
	st := ag.taskState(o.task)
	st.LastResult, st.LastError, st.LastDurationSec = o.result, o.err, seconds(o.end.Sub(o.start)) // to the millisecond, as every duration in JSON
	st.Running = false
	if ok {
		st.LastSuccess, st.LastSnapshots = o.end, o.snapshots
		if o.part > 0 {
			st.Part = o.part
		}
	}
	ag.saveState()
	ag.board.update(o.task, func(ts *taskStatus) {
		ts.Totals.add(o.totals)
		ts.RunStarted = time.Time{}
	})
	ag.show(t) // before the log line: whoever reads it then finds /status agree
	ag.logRun(o)
	ag.applyPending(t)
}

// logRun writes the one line that sums up a run.
func (ag *agent) logRun(o outcome) {
	level := slog.LevelInfo
	switch o.result {
	case resultPartial, resultInterrupted:
		level = slog.LevelWarn
	case resultFailed:
		level = slog.LevelError
	}
	attrs := []any{"job", o.task, "trigger", o.run.Kind.String(), "attempt", o.run.Attempt, "result", o.result,
		"duration_seconds", roundSec(o.end.Sub(o.start)), "snapshots", o.snapshots,
		"files_read", o.totals.FilesRead, "files_skipped", o.totals.FilesSkipped,
		"bytes_read", o.totals.BytesRead, "bytes_new", o.totals.BytesNew, "bytes_uploaded", o.totals.BytesStored,
		"lock_wait_seconds", o.totals.LockWaitSec, "snapshots_forgotten", o.totals.Forgotten}
	if o.part > 0 {
		attrs = append(attrs, "read_data_part", o.part)
	}
	if o.incomplete {
		attrs = append(attrs, "totals_incomplete", true)
	}
	if o.err != "" {
		attrs = append(attrs, "error", o.err)
	}
	if t := ag.tasks[o.task]; t != nil && !t.removed {
		if next := t.job.Wake(); !next.IsZero() {
			attrs = append(attrs, "next_run", next)
		}
	}
	ag.log.Log(context.Background(), level, "run finished", attrs...)
}

func roundSec(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}

// show puts t's schedule and counts on the status board.
func (ag *agent) show(t *task) {
	st := *ag.taskState(t.cfg.name)
	ag.board.update(t.cfg.name, func(ts *taskStatus) {
		ts.Kind, ts.Schedule = t.cfg.kind, t.cfg.sched.String()
		ts.Running, ts.taskState, ts.Stats = t.job.Running(), st, t.base.Add(t.job.Stats())
		ts.NextRun = time.Time{}
		if !ts.Running {
			ts.NextRun = t.job.Wake()
		}
	})
}

// taskState returns the remembered state of a task, created if new.
func (ag *agent) taskState(name string) *taskState {
	st, ok := ag.state.Tasks[name]
	if !ok {
		st = &taskState{}
		ag.state.Tasks[name] = st
	}
	return st
}

// saveState writes the state file; a failure is logged and retried at the
// next event.
func (ag *agent) saveState() {
	if err := ag.state.write(ag.statePath); err != nil {
		ag.log.Error("cannot save the agent state; a restart may repeat or miss a catch-up run", "error", err)
	}
}

// names returns the task names in a stable order.
func (ag *agent) names() []string {
	names := make([]string, 0, len(ag.tasks))
	for n := range ag.tasks {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// stop cancels the runs going and waits for them to report, at most
// stopWait. A run cancelled mid-snapshot leaves no manifest and releases
// its lock; one whose packs are all stored commits first.
func (ag *agent) stop(stopRuns context.CancelCauseFunc) {
	if ag.running > 0 {
		ag.log.Info("stopping: cancelling the runs going", "runs", ag.running)
	}
	stopRuns(agentStopped{at: time.Now()})
	deadline := time.NewTimer(stopWait)
	defer deadline.Stop()
	for ag.running > 0 {
		select {
		case o := <-ag.done:
			ag.finish(o)
		case <-deadline.C:
			ag.log.Error("stopping with runs still going; a repository lock they hold goes stale in 30 minutes", "runs", ag.running)
			return
		}
	}
	ag.log.Info("stopped")
}
