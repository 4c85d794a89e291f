package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wimsnap/wimsnap/scheduler"
	"github.com/wimsnap/wimsnap/snapshot"
)

// Run results, as logged, shown on /status and counted in /metrics.
const (
	resultSuccess     = "success"
	resultPartial     = "partial"     // done, but files were skipped, retention failed or prune left work
	resultFailed      = "failed"      // will be retried
	resultInterrupted = "interrupted" // the agent stopped during the run
	// The agent was killed, or the machine stopped, during the run: found
	// at the next start, as a run begun and never ended.
	resultUnfinished = "unfinished"
)

// outcome is what one run of a task did.
type outcome struct {
	task       string
	run        scheduler.Run
	start, end time.Time
	result     string
	err        string   // the first error, for a person; "" on success
	snapshots  []string // ids of the snapshots taken
	part       int      // the part a check with read-data-parts read
	totals     runTotals
	// incomplete is set when a snapshot of the run ended without its
	// summary (failed or interrupted): totals hold what its capture had
	// read by then, not the new and uploaded bytes it never reported.
	incomplete bool
	// sourcesDone is set when a snapshot job's sources were all taken on
	// before the agent's stop: a stop during its post hook then leaves the
	// result as the post hook made it, not interrupted.
	sourcesDone bool
	// left are the sources of a snapshot job that the run did not take
	// (their snapshot failed, or it was not reached).
	left []string
}

// runTotals are the counters one run adds to /metrics.
type runTotals struct {
	FilesRead    int64   `json:"files_read"`
	FilesSkipped int64   `json:"files_skipped"`
	BytesRead    int64   `json:"bytes_read"`
	BytesNew     int64   `json:"bytes_new"`
	BytesStored  int64   `json:"bytes_uploaded"`
	LockWaitSec  float64 `json:"lock_wait_seconds"`
	Forgotten    int64   `json:"snapshots_forgotten"`
}

func (t *runTotals) add(o runTotals) {
	t.FilesRead += o.FilesRead
	t.FilesSkipped += o.FilesSkipped
	t.BytesRead += o.BytesRead
	t.BytesNew += o.BytesNew
	t.BytesStored += o.BytesStored
	t.LockWaitSec += o.LockWaitSec
	t.Forgotten += o.Forgotten
}

// cmdOutput holds the fields the agent reads from its commands' --json
// documents; a command fills those it has.
type cmdOutput struct {
	Snapshot    string  `json:"snapshot"`
	FilesRead   int64   `json:"files_read"`
	BytesRead   int64   `json:"bytes_read"`
	Skipped     int64   `json:"skipped"`
	NewBytes    int64   `json:"new_bytes"`
	NewStored   int64   `json:"new_bytes_stored"`
	LockWaitSec float64 `json:"lock_wait_seconds"`
	Removed     int64   `json:"removed"`
	// What the run's log line cannot hold: the files a command skipped,
	// and what check found.
	Warnings      []warning `json:"warnings"`
	WarningsTotal int64     `json:"warnings_total"`
	Problems      []string  `json:"problems"`
}

// maxLoggedFindings is how many warnings, and problems, of a command the
// agent's log names; the totals count them all.
const maxLoggedFindings = 20

// logFindings logs the files out skipped and the problems it found, the
// first maxLoggedFindings of each, in one line; nothing when there are
// none.
func (r *runner) logFindings(t *taskConfig, command string, out cmdOutput) {
	if len(out.Warnings) == 0 && len(out.Problems) == 0 {
		return
	}
	attrs := []any{"job", t.name, "command", command}
	if n := len(out.Warnings); n > 0 {
		attrs = append(attrs, "warnings", out.Warnings[:min(n, maxLoggedFindings)], "warnings_total", max(out.WarningsTotal, int64(n)))
	}
	if n := len(out.Problems); n > 0 {
		attrs = append(attrs, "problems", out.Problems[:min(n, maxLoggedFindings)], "problems_total", n)
	}
	r.log.Warn("command findings", attrs...)
}

// commands returns the command lines of task t for one source (snapshot
// jobs; other tasks ignore it): the snapshot, then forget when the job has
// a retention policy.
func (c *agentConfig) commands(t *taskConfig, source string) [][]string {
	repo := c.repoArgs
	if c.repo != "" {
		repo = append([]string{"--repo=" + c.repo}, repo...)
	}
	line := func(cmd string, args ...[]string) []string {
		out := []string{cmd, "--json"}
		out = append(out, repo...)
		for _, a := range args {
			out = append(out, a...)
		}
		return out
	}
	if t.kind != kindSnapshot {
		return [][]string{line(string(t.kind), t.args)}
	}
	host := []string{"--host=" + c.hostName()}
	snap := line("snapshot", host, t.args, []string{"--", source})
	if t.forget == nil {
		return [][]string{snap}
	}
	// The tree's key: a directory named like an import's source
	// (x.wim#1) is named with a final separator, apart from the import.
	return [][]string{snap, line("forget", host, []string{"--path=" + snapshot.TreeKey(source)}, t.forget)}
}

// hostName is the host the agent's snapshots are recorded under.
func (c *agentConfig) hostName() string {
	if c.host != "" {
		return c.host
	}
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return h
}

// checkArgs parses the command line argv as the command would, without
// running it, and reads a snapshot's exclusions (--config, --exclude),
// which would fail every run if they did not load.
func (a *app) checkArgs(argv []string) error {
	scratch := &app{stdout: io.Discard, stderr: io.Discard, lookup: a.lookup, now: a.now}
	root := scratch.newRootCommand()
	cmd, rest, err := root.Find(argv)
	if err != nil {
		return err
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return err
	}
	if cmd.Name() != "snapshot" {
		return nil
	}
	config, err := cmd.Flags().GetString("config")
	if err != nil {
		return err
	}
	// Not GetStringArray, which reads the flag back from its text: a
	// lone empty value ("--exclude=") came back as no value at all.
	exclude := []string{}
	if v, ok := cmd.Flags().Lookup("exclude").Value.(interface{ GetSlice() []string }); ok {
		exclude = v.GetSlice()
	}
	// Exclusions that would fail every run, named by their keys.
	cfg, err := scratch.loadConfig(config)
	if err != nil {
		return &keyError{"exclusion-list", err}
	}
	if err := cfg.Exclude(exclude...); err != nil {
		return &keyError{"exclude", err}
	}
	return nil
}

// runner executes the runs of an agent's tasks. Its methods may be called
// from several goroutines at once.
type runner struct {
	parent *app
	cfg    *agentConfig
	log    *slog.Logger
}

// execute runs one run of task t and reports what it did; a cancelled
// ctx makes the run interrupted. part is the part of the packs a check
// with read-data-parts reads. A snapshot job takes only those of its
// sources that only names, when only is not nil (a retry).
func (r *runner) execute(ctx context.Context, t *taskConfig, run scheduler.Run, part int, only []string) outcome {
	o := outcome{task: t.name, run: run, start: r.parent.now(), result: resultSuccess, snapshots: []string{}}
	switch {
	case t.kind == kindSnapshot:
		r.snapshotJob(ctx, t, &o, only)
	case part > 0:
		o.part = part
		argv := append(r.cfg.commands(t, "")[0], fmt.Sprintf("--read-data-subset=%d/%d", part, t.parts))
		r.command(ctx, t, t.name, argv, &o)
	default:
		r.command(ctx, t, t.name, r.cfg.commands(t, "")[0], &o)
	}
	o.end = r.parent.now()
	if ctx.Err() != nil && o.result != resultSuccess && !o.sourcesDone {
		o.result = resultInterrupted
	}
	return o
}

// snapshotJob runs a snapshot job: the pre hook, a snapshot and forget
// per source (of those only names, when it is not nil), the post hook.
// The post hook runs whenever the pre hook was started, also after a
// failure or at the agent's stop, so that what the pre hook set up is
// taken down. The sources it did not take go in o.left.
func (r *runner) snapshotJob(ctx context.Context, t *taskConfig, o *outcome, only []string) {
	env := []string{"WIMSNAP_JOB=" + t.name, "WIMSNAP_RUN_KIND=" + o.run.Kind.String(),
		fmt.Sprintf("WIMSNAP_ATTEMPT=%d", o.run.Attempt)}
	if t.hooks.pre != nil {
		err := runHook(ctx, t.hooks.pre, t.hooks.timeout, append(env, "WIMSNAP_HOOK=pre"), r.hookLog(t.name, "pre"))
		if err != nil {
			o.fail(resultFailed, fmt.Errorf("pre hook: %w", err))
		}
	}
	sources := t.sources
	if only != nil {
		sources = slices.DeleteFunc(slices.Clone(sources), func(s string) bool { return !slices.Contains(only, s) })
	}
	preFailed := o.result != resultSuccess
	for i, src := range sources {
		if preFailed || ctx.Err() != nil {
			// The pre hook failed, or the agent is stopping: the
			// sources wait for the next run.
			o.left = append(o.left, sources[i:]...)
			break
		}
		cmds := r.cfg.commands(t, src)
		if !r.command(ctx, t, src, cmds[0], o) {
			o.left = append(o.left, src)
			continue
		}
		if len(cmds) > 1 {
			r.command(ctx, t, src, cmds[1], o)
		}
	}
	o.sourcesDone = ctx.Err() == nil
	if t.hooks.post != nil {
		r.postHook(ctx, t, o, env)
	}
}

// postHook runs the job's post hook. It is not stopped by the agent's stop
// at once: it gets until shutdownHookGrace after the stop, and at least
// postHookMinGrace from its own start when it begins after the stop, but
// never past postHookLatest, so that it is killed (hookKillWait later)
// before the agent stops waiting for its runs (stopWait). Its failure
// makes the run partial, not failed: the snapshots are taken, and a retry
// would only take them again. So does its failure when the stop came
// while it ran (it was killed at the end of its grace, say).
func (r *runner) postHook(ctx context.Context, t *taskConfig, o *outcome, env []string) {
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		since := time.Since(stoppedAt(ctx)) // 0 for a hook going at the stop
		wait := min(max(shutdownHookGrace-since, postHookMinGrace), postHookLatest-since)
		time.AfterFunc(wait, cancel)
	})
	defer stop()
	result := o.result
	if ctx.Err() != nil {
		result = resultInterrupted
	}
	env = append(env, "WIMSNAP_HOOK=post", "WIMSNAP_RESULT="+result, "WIMSNAP_SNAPSHOTS="+strings.Join(o.snapshots, " "))
	if err := runHook(hctx, t.hooks.post, t.hooks.timeout, env, r.hookLog(t.name, "post")); err != nil {
		o.fail(resultPartial, fmt.Errorf("post hook: %w", err))
	}
}

// labelled prefixes err's message with label, unless it begins with it
// already ("check: the repository is damaged", not "check: check: ...").
func labelled(label string, err error) error {
	if strings.HasPrefix(err.Error(), label+": ") {
		return err
	}
	return fmt.Errorf("%s: %w", label, err)
}

// commandLabel names a command of a run in messages: "snapshot /srv",
// "forget /srv", and "prune" rather than "prune prune" for a task named
// after its command.
func commandLabel(command, what string) string {
	if what == "" || what == command {
		return command
	}
	return command + " " + what
}

// shutdownHookGrace bounds a post hook that runs after the agent was told
// to stop: it is stopped this long after the stop.
const shutdownHookGrace = 20 * time.Second

// postHookMinGrace is the least time a post hook that begins after the
// agent's stop gets, unless that would take it past postHookLatest.
const postHookMinGrace = 5 * time.Second

// postHookLatest is when, after the agent's stop, a post hook is stopped
// at the latest: its SIGKILL (hookKillWait later) comes before the agent
// stops waiting for its runs (stopWait).
const postHookLatest = stopWait - hookKillWait - 2*time.Second

// agentStopped is the cause of the runs' cancellation when the agent
// stops, and when.
type agentStopped struct{ at time.Time }

func (agentStopped) Error() string { return "the agent is stopping" }

// stoppedAt returns when the agent stopped, ctx being cancelled: the
// time its cause records, else now.
func stoppedAt(ctx context.Context) time.Time {
	var s agentStopped
	if errors.As(context.Cause(ctx), &s) {
		return s.at
	}
	return time.Now()
}

// command runs one wimsnap command line of a run in this process, as a
// person would type it, and adds its outcome to o. It reports whether the
// command finished (exit 0 or 3).
func (r *runner) command(ctx context.Context, t *taskConfig, what string, argv []string, o *outcome) bool {
	var stdout bytes.Buffer
	stderr := &lineLog{log: r.log, attrs: []any{"job", t.name, "command", argv[0]}, level: slog.LevelWarn}
	child := &app{stdout: &stdout, stderr: stderr, lookup: r.lookup, now: r.parent.now, termWidth: func() int { return 0 }}
	r.log.Debug("command", "job", t.name, "line", "wimsnap "+quoteArgs(argv))
	_, code, err := child.exec(ctx, argv)
	stderr.flush()
	var out cmdOutput
	jerr := json.Unmarshal(stdout.Bytes(), &out) // a failed check's document too, for its problems
	if jerr == nil {
		r.logFindings(t, argv[0], out)
	}
	if code == exitOK || code == exitPartial {
		if jerr != nil {
			r.log.Warn("unreadable command output", "job", t.name, "command", argv[0], "error", jerr)
		}
		o.add(argv[0], out)
	} else if argv[0] == "snapshot" {
		o.addEnded(err)
	}
	if err == nil {
		return true
	}
	err = labelled(commandLabel(argv[0], what), err)
	switch {
	case code == exitPartial:
		o.fail(resultPartial, err)
		return true
	case argv[0] == "forget":
		// The snapshot is taken: a retention that failed does not make
		// the run retried; the next run applies it again.
		o.fail(resultPartial, err)
	default:
		o.fail(resultFailed, err)
	}
	return false
}

// add counts the output of a finished command.
func (o *outcome) add(cmd string, out cmdOutput) {
	if cmd == "snapshot" && out.Snapshot != "" {
		o.snapshots = append(o.snapshots, out.Snapshot)
	}
	o.totals.add(runTotals{FilesRead: out.FilesRead, FilesSkipped: out.Skipped, BytesRead: out.BytesRead,
		BytesNew: out.NewBytes, BytesStored: out.NewStored, LockWaitSec: out.LockWaitSec, Forgotten: out.Removed})
}

// addEnded counts what a snapshot that ended without its summary (err)
// had read and how long it waited for the repository lock, and marks the
// totals incomplete, unless it ended before its capture began: then it
// read and stored nothing, and the totals stand.
func (o *outcome) addEnded(err error) {
	var ended *snapshotEnded
	if !errors.As(err, &ended) {
		return
	}
	o.totals.add(runTotals{LockWaitSec: seconds(ended.lockWait)})
	if ended.read == (snapshot.CaptureStats{}) {
		return
	}
	o.incomplete = true
	o.totals.add(runTotals{FilesRead: ended.read.Read, FilesSkipped: ended.read.Skipped, BytesRead: ended.read.BytesRead})
}

// fail records a failure: the worst result stands, and the first error.
func (o *outcome) fail(result string, err error) {
	if o.err == "" {
		o.err = err.Error()
	}
	if result == resultFailed || o.result == resultSuccess {
		o.result = result
	}
}

// lookup is the environment of the agent's commands: the variables of
// [credentials] over the agent's own.
func (r *runner) lookup(name string) (string, bool) {
	if v, ok := r.cfg.env[name]; ok {
		return v, true
	}
	return r.parent.lookup(name)
}

// hookLog returns where a hook's output lines go.
func (r *runner) hookLog(job, hook string) *lineLog {
	return &lineLog{log: r.log, attrs: []any{"job", job, "hook", hook}, level: slog.LevelInfo}
}

// lineLog is an io.Writer that logs each line written to it, up to
// maxLogLines lines of at most maxLogLine bytes; the rest is counted. It
// may be written from several goroutines at once.
type lineLog struct {
	log     *slog.Logger
	attrs   []any
	level   slog.Level
	mu      sync.Mutex
	buf     []byte
	skip    bool // the line going on was cut: drop the rest of it
	lines   int
	dropped int
}

const (
	maxLogLines = 100
	maxLogLine  = 2048
)

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		if !l.skip {
			l.emit(l.buf[:i])
		}
		l.skip = false
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > maxLogLine {
		if !l.skip {
			l.emit(l.buf)
		}
		l.skip = true
		l.buf = l.buf[:0]
	}
	return len(p), nil
}

func (l *lineLog) emit(line []byte) {
	line = bytes.TrimRight(line, "\r")
	if len(line) == 0 {
		return
	}
	if l.lines >= maxLogLines {
		l.dropped++
		return
	}
	l.lines++
	if len(line) > maxLogLine {
		line = line[:maxLogLine]
	}
	l.log.Log(context.Background(), l.level, "output", append(l.attrs, "line", strings.ToValidUTF8(string(line), "\uFFFD"))...)
}

// flush logs a last line without a newline and the count of dropped lines.
func (l *lineLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.skip {
		l.emit(l.buf)
	}
	l.buf, l.skip = nil, false
	if l.dropped > 0 {
		l.log.Log(context.Background(), l.level, "output truncated", append(l.attrs, "lines_dropped", l.dropped)...)
		l.dropped = 0
	}
}
