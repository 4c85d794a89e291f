package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

const agentHelp = `
Run the snapshot agent: take each [[job]] of the config file (TOML, see
docs/agent.md and docs/agent.example.toml) on its schedule, apply the
job's retention after each snapshot, and prune and check the repository
on the schedules of [prune] and [check]. It runs until SIGTERM or SIGINT.

Rules:
  - Never two runs of a job at once: a slot that comes while the job's
    previous run is going is skipped, logged and counted.
  - A run missed while the agent was stopped or the machine off or asleep
    is taken once, at start-up or on waking (remembered in the state
    file: state-file in the config).
  - A failed run is retried after 1m, 2m, 4m… (at most 1h, [job.retry]),
    never past the job's next slot; a retry takes only the sources the
    failed run did not take.
  - SIGTERM or SIGINT stops within seconds: a snapshot going is abandoned
    (no manifest, its lock released) unless all its data is stored, in
    which case it commits; post hooks still run, for at most 20 s.
  - SIGHUP reloads the config; a config that does not load is logged and
    the running one kept.
  - One agent per state file: a second one with the same state file
    refuses to start (a lock on the state file's ".lock" file beside it).

On Windows, Ctrl+C stops it, hooks given as a string run through cmd.exe,
the default config is %ProgramData%\wimsnap\agent.toml, and --service
runs it under the service control manager (sc create ... binPath= "...
agent --service"), logging to %ProgramData%\wimsnap\agent.log unless
--log-file says otherwise.

Each run writes one log line with its summary (JSON when stderr is not a
terminal) to stderr. /status (JSON) and /metrics (Prometheus) are served
on [status] listen (default ` + defaultStatusListen + `; "off" disables);
'wimsnap agent status' shows them.

--check-config loads the config, reports every mistake in it and prints
each job's next run, without running anything. With --json, it prints
one document:
  {"config", "ok", "jobs": [{"name", "kind", "schedule", "next_runs",
   "commands"}], "warnings", "warnings_total"}
with in "warnings" what loads but should be mended (an env-file of
credentials that other users may read), also logged at start and reload;
or, for a config that does not load, {"error", "errors": [...],
"exit_code"} with each mistake in "errors". The agent itself prints nothing
on stdout once started, --json or not (with --json, a failure to start
gives the {"error", "exit_code"} document every command gives).

Exit codes: 0 after a signal, 2 for a config that does not load, 1 when
the agent cannot start (another agent uses the state file, the status
address is in use, ...).`

type agentFlags struct {
	config  string
	check   bool
	verbose bool
	logFile string
	service bool
}

func (a *app) newAgentCommand() *cobra.Command {
	f := &agentFlags{}
	cmd := &cobra.Command{
		Use: "agent [--config=FILE] [--check-config]",
		Example: `  wimsnap agent --config=/etc/wimsnap/agent.toml --check-config
  wimsnap agent --config=/etc/wimsnap/agent.toml`,
		Short: "Take snapshots on a schedule, apply retention, serve status",
		Long:  strings.TrimSpace(agentHelp), // its own exit codes, not the commands' table
		Args:  argsBetween(0, 0),
		RunE: a.body(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			return a.runAgent(ctx, f)
		}),
	}
	fl := cmd.Flags()
	f.config = defaultAgentConfig
	fl.Var((*nonEmpty)(&f.config), "config", "the agent's config file (TOML)")
	fl.BoolVar(&f.check, "check-config", false, "check the config file and show the next runs, then exit")
	fl.BoolVar(&f.verbose, "verbose", false, "also log each command line a run executes and each run's start")
	fl.Var((*nonEmpty)(&f.logFile), "log-file", "append the log (JSON lines) to this file instead of writing it to stderr")
	fl.BoolVar(&f.service, "service", false, "run as a Windows service (found out by itself when the service manager starts it)")
	cmd.AddCommand(a.newAgentStatusCommand())
	return cmd
}

func (a *app) runAgent(ctx context.Context, f *agentFlags) error {
	service, err := asService(f.service)
	if err != nil {
		return &usageError{err}
	}
	if service && f.logFile == "" {
		f.logFile = defaultServiceLog()
	}
	if f.check {
		cfg, err := a.loadAgentConfig(f.config)
		if err != nil {
			return &usageError{err}
		}
		return a.printAgentPlan(cfg)
	}
	if f.logFile != "" {
		if err := a.logTo(f.logFile); err != nil {
			return err
		}
	}
	run := func(ctx context.Context) error {
		cfg, err := a.loadAgentConfig(f.config)
		if err != nil {
			return &usageError{err}
		}
		return a.serveAgent(ctx, f, cfg)
	}
	if service {
		return runService(ctx, run)
	}
	return run(ctx)
}

// logTo makes the file at path, appended to, the agent's stderr: its log
// and its last error. The file stays open until the process exits, so
// that the error that ends it is written there too.
func (a *app) logTo(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("agent log: %w", err)
	}
	lf, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("agent log: %w", err)
	}
	a.stderr, a.stderrTTY, a.logJSON = lf, false, true
	return nil
}

// serveAgent runs the agent of cfg until ctx is done.
func (a *app) serveAgent(ctx context.Context, f *agentFlags, cfg *agentConfig) error {
	log := a.agentLogger(f.verbose)
	ag, ln, err := a.newAgent(cfg, log)
	if err != nil {
		return err
	}
	defer ag.lock.release() //nolint:errcheck // the agent is ending; the system drops the lock anyway
	sctx, stopServe := context.WithCancel(ctx)
	defer stopServe()
	if ln != nil {
		served := serveStatus(sctx, ln, ag.board)
		defer func() {
			if err := <-served; err != nil {
				log.Error("status server failed", "error", err)
			}
		}()
	}
	hup := make(chan os.Signal, 1)
	signal.Ignore(syscall.SIGHUP) // not a stop (main's stopSignals), until:
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	defer holdStopSignals(log)()
	log.Info("agent started", "config", cfg.path, "status", ag.state.Listen, "state", ag.statePath,
		"jobs", ag.names(), "pid", os.Getpid())
	logConfigWarnings(log, cfg)
	ag.loop(ctx, hup)
	return nil
}

// holdStopSignals keeps SIGTERM and SIGINT from ending the agent at once
// after the first (which stops it through main's context): a command
// ends at a second one (see main), but the agent's stop is bounded (30 s), and
// ending it then left its hooks running (an LVM snapshot mounted) and the
// run recorded as running. Those after the first are logged. It returns
// the function that lets them go.
func holdStopSignals(log *slog.Logger) func() {
	held := make(chan os.Signal, 2)
	signal.Notify(held, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		n := 0
		for {
			select {
			case sig := <-held:
				if n++; n > 1 { // the first is the stop itself
					log.Warn("already stopping: the agent ends its runs within 30 s of the first signal (SIGKILL ends it at once)",
						"signal", sig.String())
				}
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(held)
		close(done)
	}
}

// newAgent prepares the agent of cfg: the lock of its state file (see
// agentLock), which the caller releases, its state, its status listener
// (nil when off) and its tasks.
func (a *app) newAgent(cfg *agentConfig, log *slog.Logger) (ag *agent, ln net.Listener, err error) {
	path := cfg.state
	if path == "" {
		p, err := a.defaultStatePath()
		if err != nil {
			return nil, nil, err
		}
		path = p
	}
	lock, err := lockAgentState(path)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			_ = lock.release() // not started: nothing to keep
		}
	}()
	st, err := readAgentState(path)
	if err != nil {
		log.Warn("agent state unreadable", "error", err)
	}
	st.markUnfinished()
	st.Listen = ""
	if cfg.status.listen != "" {
		if ln, err = net.Listen("tcp", cfg.status.listen); err != nil {
			return nil, nil, fmt.Errorf("status address: %w (is another agent running? set [status] listen)", err)
		}
		st.Listen = ln.Addr().String()
	}
	st.PID = os.Getpid()
	host := cfg.hostName()
	ag = &agent{app: a, cfg: cfg, log: log, tasks: map[string]*task{}, state: st, statePath: path, lock: lock,
		board: newBoard(agentInfo{Config: cfg.path, Started: a.now(), PID: st.PID, Host: host}),
		done:  make(chan outcome)}
	ag.setTasks(cfg)
	if err := st.write(path); err != nil {
		if ln != nil {
			_ = ln.Close() // not started: nothing was served
		}
		return nil, nil, err
	}
	return ag, ln, nil
}

// agentLogger logs JSON lines, or text on a terminal.
func (a *app) agentLogger(verbose bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if verbose {
		opts.Level = slog.LevelDebug
	}
	if a.stderrTTY {
		return slog.New(slog.NewTextHandler(a.stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(a.stderr, opts))
}

// printAgentPlan prints what --check-config found: each task and its next
// runs.
func (a *app) printAgentPlan(cfg *agentConfig) error {
	now := a.now()
	type planned struct {
		Name     string      `json:"name"`
		Kind     taskKind    `json:"kind"`
		Schedule string      `json:"schedule"`
		Next     []time.Time `json:"next_runs"`
		Commands [][]string  `json:"commands"`
	}
	var plan []planned
	for _, t := range cfg.tasks {
		p := planned{Name: t.name, Kind: t.kind, Schedule: t.sched.String()}
		for at, i := now, 0; i < 3; i++ {
			at = t.sched.Next(at)
			p.Next = append(p.Next, at)
		}
		srcs := t.sources
		if len(srcs) == 0 {
			srcs = []string{""}
		}
		for _, s := range srcs {
			p.Commands = append(p.Commands, cfg.commands(t, s)...)
		}
		if t.parts > 0 { // as execute adds it: k is the next part, 1 to N in turn
			p.Commands[0] = append(p.Commands[0], fmt.Sprintf("--read-data-subset=k/%d", t.parts))
		}
		plan = append(plan, p)
	}
	if a.json {
		return writeJSON(a.stdout, map[string]any{"config": cfg.path, "ok": true, "jobs": plan,
			"warnings": nonNil(cfg.warnings), "warnings_total": len(cfg.warnings)})
	}
	fmt.Fprintf(a.stdout, "%s: OK, %s\n", cfg.path, plural(len(plan), "job"))
	for _, w := range cfg.warnings {
		fmt.Fprintf(a.stdout, "warning: %s\n", w)
	}
	for _, p := range plan {
		fmt.Fprintf(a.stdout, "\n%s (%s) %q\n", p.Name, p.Kind, p.Schedule)
		for _, t := range p.Next {
			fmt.Fprintf(a.stdout, "  next: %s\n", t.Format("2006-01-02 15:04:05 MST"))
		}
		for _, c := range p.Commands {
			fmt.Fprintf(a.stdout, "  runs: wimsnap %s\n", quoteArgs(c))
		}
	}
	return nil
}
