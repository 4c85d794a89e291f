package main

import (
	"log/slog"
	"slices"
	"time"

	"github.com/wimsnap/wimsnap/scheduler"
)

// setTasks makes the tasks of cfg the agent's, at the start or on a
// reload. A task that keeps its name keeps its history and counts; one
// whose run is going takes its new config when the run ends; a task
// that is gone is dropped, after its run if one is going.
func (ag *agent) setTasks(cfg *agentConfig) {
	ag.cfg = cfg
	now := ag.app.now()
	var names []string
	for _, tc := range cfg.tasks {
		names = append(names, tc.name)
		t, ok := ag.tasks[tc.name]
		switch {
		case !ok:
			t = &task{cfg: tc, job: ag.newJob(tc, now)}
			ag.tasks[tc.name] = t
		case t.job.Running():
			t.pending, t.removed = tc, false
		default:
			t.job, t.cfg = ag.renewJob(t, tc, now), tc
		}
	}
	for name, t := range ag.tasks {
		if slices.Contains(names, name) {
			continue
		}
		if t.job.Running() {
			t.removed = true
			continue
		}
		delete(ag.tasks, name)
	}
	ag.board.keep(ag.names())
	for _, n := range ag.names() {
		ag.show(ag.tasks[n])
	}
}

// newJob returns the schedule state of a task from its remembered state.
func (ag *agent) newJob(tc *taskConfig, now time.Time) *scheduler.Job {
	st := ag.taskState(tc.name)
	return scheduler.NewJob(tc.sched, scheduler.Options{Backoff: tc.backoff},
		scheduler.History{LastRun: st.LastRun, LastSuccess: st.LastSuccess}, now)
}

// renewJob returns the schedule state for a task's new config t: the
// old one when its schedule is unchanged, else a new one from the same
// history, the old one's counts kept in t.base.
func (ag *agent) renewJob(t *task, tc *taskConfig, now time.Time) *scheduler.Job {
	if sameSchedule(t.cfg, tc) {
		return t.job
	}
	t.base = t.base.Add(t.job.Stats())
	return ag.newJob(tc, now)
}

func sameSchedule(a, b *taskConfig) bool {
	return a.sched.String() == b.sched.String() && a.sched.Jitter() == b.sched.Jitter() &&
		a.sched.Location().String() == b.sched.Location().String() && a.backoff == b.backoff
}

// applyPending applies a reload that came during t's run.
func (ag *agent) applyPending(t *task) {
	switch {
	case t.removed:
		delete(ag.tasks, t.cfg.name)
		ag.board.keep(ag.names())
	case t.pending != nil:
		t.job = ag.renewJob(t, t.pending, ag.app.now())
		t.cfg, t.pending = t.pending, nil
	}
}

// reload reads the config file again. A config that does not load is
// logged and the running one kept.
func (ag *agent) reload() {
	cfg, err := ag.app.loadAgentConfig(ag.cfg.path)
	if err != nil {
		ag.log.Error("reload refused; the running configuration stays", "error", err)
		return
	}
	if cfg.status != ag.cfg.status || cfg.state != ag.cfg.state {
		ag.log.Warn("reload: [status] and state-file take effect at the next start")
		cfg.status, cfg.state = ag.cfg.status, ag.cfg.state
	}
	ag.setTasks(cfg)
	ag.log.Info("configuration reloaded", "config", cfg.path, "jobs", ag.names())
	logConfigWarnings(ag.log, cfg)
}

// logConfigWarnings logs what cfg loads with but should be mended.
func logConfigWarnings(log *slog.Logger, cfg *agentConfig) {
	for _, w := range cfg.warnings {
		log.Warn("config: "+w, "config", cfg.path)
	}
}
