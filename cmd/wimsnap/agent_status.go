package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wimsnap/wimsnap/scheduler"
)

// statusDoc is the JSON document of /status and of 'agent status --json'.
type statusDoc struct {
	Agent agentInfo    `json:"agent"`
	Jobs  []taskStatus `json:"jobs"`
}

type agentInfo struct {
	Config  string    `json:"config"`
	Started time.Time `json:"started"`
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
}

// taskStatus is one task on the status page.
type taskStatus struct {
	Name       string    `json:"name"`
	Kind       taskKind  `json:"kind"`
	Schedule   string    `json:"schedule"`
	Running    bool      `json:"running"`
	RunStarted time.Time `json:"run_started,omitzero"`
	NextRun    time.Time `json:"next_run,omitzero"`
	taskState
	Stats  scheduler.Stats `json:"counts"`
	Totals runTotals       `json:"totals"`
}

// board is the agent's live status, written by its loop and read by the
// HTTP handlers; its methods may be called concurrently.
type board struct {
	mu    sync.Mutex
	info  agentInfo
	tasks map[string]*taskStatus
	order []string
}

func newBoard(info agentInfo) *board {
	return &board{info: info, tasks: map[string]*taskStatus{}}
}

// update calls fn with the status of task name, created if new.
func (b *board) update(name string, fn func(*taskStatus)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ts, ok := b.tasks[name]
	if !ok {
		ts = &taskStatus{Name: name}
		b.tasks[name] = ts
		b.order = append(b.order, name)
	}
	fn(ts)
}

// keep drops the tasks not in names (a reload removed them).
func (b *board) keep(names []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.order = slices.DeleteFunc(b.order, func(n string) bool {
		if slices.Contains(names, n) {
			return false
		}
		delete(b.tasks, n)
		return true
	})
}

// doc returns a copy of the status.
func (b *board) doc() statusDoc {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := statusDoc{Agent: b.info, Jobs: make([]taskStatus, 0, len(b.order))}
	for _, n := range b.order {
		ts := *b.tasks[n]
		ts.LastSnapshots = slices.Clone(ts.LastSnapshots)
		d.Jobs = append(d.Jobs, ts)
	}
	return d
}

// serveStatus serves /status and /metrics from b on ln until ctx is done.
func serveStatus(ctx context.Context, ln net.Listener, b *board) <-chan error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = writeJSON(w, b.doc()) // the client went away: nothing to do
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		writeMetrics(w, b.doc())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx) // stopping: an unfinished response is cut
	}()
	return done
}

// metric is one metric family of /metrics.
type metric struct {
	name, help, typ string
	value           func(ts *taskStatus) (float64, bool) // false: no sample
}

func counter(name, help string, v func(ts *taskStatus) float64) metric {
	return metric{name, help, "counter", func(ts *taskStatus) (float64, bool) { return v(ts), true }}
}

func gaugeTime(name, help string, v func(ts *taskStatus) time.Time) metric {
	return metric{name, help, "gauge", func(ts *taskStatus) (float64, bool) {
		t := v(ts)
		return float64(t.UnixMilli()) / 1000, !t.IsZero()
	}}
}

var agentMetrics = []metric{
	counter("wimsnap_agent_runs_total", "Runs begun since the agent started.", func(ts *taskStatus) float64 { return float64(ts.Stats.Runs) }),
	counter("wimsnap_agent_run_failures_total", "Runs that failed since the agent started.", func(ts *taskStatus) float64 { return float64(ts.Stats.Failures) }),
	counter("wimsnap_agent_run_skips_total", "Slots skipped because the previous run was still going.", func(ts *taskStatus) float64 { return float64(ts.Stats.Skips) }),
	counter("wimsnap_agent_run_catchups_total", "Runs begun late, for slots missed while the agent was stopped or the machine off.", func(ts *taskStatus) float64 { return float64(ts.Stats.CatchUps) }),
	counter("wimsnap_agent_run_retries_total", "Runs begun to retry a failed run.", func(ts *taskStatus) float64 { return float64(ts.Stats.Retries) }),
	counter("wimsnap_agent_files_read_total", "Files opened and read by snapshots.", func(ts *taskStatus) float64 { return float64(ts.Totals.FilesRead) }),
	counter("wimsnap_agent_files_skipped_total", "Files snapshots could not read and left out.", func(ts *taskStatus) float64 { return float64(ts.Totals.FilesSkipped) }),
	counter("wimsnap_agent_read_bytes_total", "Bytes read from sources by snapshots.", func(ts *taskStatus) float64 { return float64(ts.Totals.BytesRead) }),
	counter("wimsnap_agent_new_bytes_total", "Bytes of chunks new to the repository, before compression.", func(ts *taskStatus) float64 { return float64(ts.Totals.BytesNew) }),
	counter("wimsnap_agent_uploaded_bytes_total", "Bytes of new chunks stored in the repository, compressed.", func(ts *taskStatus) float64 { return float64(ts.Totals.BytesStored) }),
	counter("wimsnap_agent_lock_wait_seconds_total", "Time runs waited to take the repository lock.", func(ts *taskStatus) float64 { return ts.Totals.LockWaitSec }),
	counter("wimsnap_agent_snapshots_forgotten_total", "Snapshots removed by retention.", func(ts *taskStatus) float64 { return float64(ts.Totals.Forgotten) }),
	{"wimsnap_agent_running", "1 while a run of the job is going.", "gauge", func(ts *taskStatus) (float64, bool) {
		if ts.Running {
			return 1, true
		}
		return 0, true
	}},
	{"wimsnap_agent_last_run_duration_seconds", "Duration of the job's last finished run.", "gauge", func(ts *taskStatus) (float64, bool) {
		// An unfinished run (the agent died in it) has no duration.
		return ts.LastDurationSec, !ts.LastRun.IsZero() && ts.LastResult != "" && ts.LastResult != resultUnfinished
	}},
	{"wimsnap_agent_last_run_success", "1 if the job's last finished run succeeded (or was partial), else 0.", "gauge", func(ts *taskStatus) (float64, bool) {
		if ts.LastResult == resultSuccess || ts.LastResult == resultPartial {
			return 1, true
		}
		return 0, ts.LastResult != ""
	}},
	gaugeTime("wimsnap_agent_last_run_timestamp_seconds", "When the job's last run began (Unix time).", func(ts *taskStatus) time.Time { return ts.LastRun }),
	gaugeTime("wimsnap_agent_last_success_timestamp_seconds", "When the job's last successful run ended (Unix time).", func(ts *taskStatus) time.Time { return ts.LastSuccess }),
	gaugeTime("wimsnap_agent_next_run_timestamp_seconds", "When the job runs next (Unix time).", func(ts *taskStatus) time.Time { return ts.NextRun }),
}

// writeMetrics writes d in the Prometheus text exposition format.
func writeMetrics(w io.Writer, d statusDoc) {
	var sb strings.Builder
	for _, m := range agentMetrics {
		fmt.Fprintf(&sb, "# HELP %s %s\n# TYPE %s %s\n", m.name, m.help, m.name, m.typ)
		for i := range d.Jobs {
			ts := &d.Jobs[i]
			if v, ok := m.value(ts); ok {
				fmt.Fprintf(&sb, "%s{job=%s,kind=%q} %s\n", m.name, promLabel(ts.Name), ts.Kind, promFloat(v))
			}
		}
	}
	_, _ = io.WriteString(w, sb.String()) // the client went away: nothing to do
}

// promLabel quotes a label value as the exposition format wants.
func promLabel(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

func promFloat(v float64) string {
	return strings.TrimSuffix(fmt.Sprintf("%.3f", v), ".000")
}
