// Command wimsnap captures directory trees into WIM files and applies them.
// See README-commands.md for the command reference and exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/wimsnap/wimsnap/remote"
)

// stopSignals are the signals that stop a command cleanly (exit 130):
// SIGINT, SIGTERM, and SIGHUP, which a closed terminal or SSH session
// sends (by default it killed the process, leaving temporary files,
// zero-length files under their names and locks), unless the process
// was started with SIGHUP ignored (nohup), which stays so. The agent
// takes SIGHUP back for itself (reload).
func stopSignals() []os.Signal {
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if !signal.Ignored(syscall.SIGHUP) {
		sigs = append(sigs, syscall.SIGHUP)
	}
	return sigs
}

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		tuneGC()
	}
	ctx, stop := signal.NotifyContext(context.Background(), stopSignals()...)
	// A second Ctrl-C or SIGTERM ends the process at once, as the first
	// one's cleanup may wait for a server (a lock left goes stale).
	context.AfterFunc(ctx, stop)
	a := &app{
		stdout:    os.Stdout,
		stderr:    os.Stderr,
		lookup:    os.LookupEnv,
		now:       time.Now,
		stderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
		termWidth: func() int {
			w, _, err := term.GetSize(int(os.Stderr.Fd()))
			if err != nil {
				return 0
			}
			return w
		},
	}
	stopProfile := startProfile(a.lookup)
	code := a.run(ctx, os.Args[1:])
	if err := stopProfile(); err != nil {
		// Profiles are for measuring; the run's exit code stands.
		fmt.Fprintf(a.stderr, "wimsnap: %v\n", err)
	}
	stop()
	os.Exit(code)
}

// app is one run of the command line: its outputs, environment and clock,
// and the flags shared by all commands. main builds one; tests build their
// own.
type app struct {
	stdout, stderr io.Writer
	lookup         lookupFunc
	now            func() time.Time
	stderrTTY      bool       // show a status line (unless --json)
	termWidth      func() int // columns of stderr's terminal, 0 if unknown

	json    bool       // --json
	version bool       // wimsnap --version
	s3      *remote.S3 // the S3 store a command opened, for its request counts
	started bool       // a command's body ran: its errors are not usage errors
	// tempCache is the temporary index cache of a command whose cache
	// directory could not be written (see usableCache); exec removes it.
	tempCache string
	// logJSON says that stderr is the agent's --log-file, of JSON lines:
	// the error that ends the run is written as one.
	logJSON bool
}

// run executes the command line args and returns the exit code, having
// printed any error on stderr. A cancelled ctx means a signal arrived.
func (a *app) run(ctx context.Context, args []string) int {
	out := &runOutput{w: a.stdout, json: &a.json}
	a.stdout = out
	cmd, code, err := a.exec(ctx, args)
	if err != nil && !a.json && jsonAsked(args) {
		a.json = true // flag parsing stopped at an error before it
	}
	a.report(cmd, err, code)
	if werr := out.finish(err, code, a.interrupted(cmd)); werr != nil && code == exitOK {
		fmt.Fprintf(a.stderr, "wimsnap: %v\n", werr)
		code = exitFailure
	}
	return code
}

// jsonAsked reports whether args hold --json before any "--", for a
// command line whose parsing failed before it reached the flag.
func jsonAsked(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "--json", "--json=true", "--json=1":
			return true
		}
	}
	return false
}

// mistakes are the several mistakes one check found, each its own error
// (an agent config's). Its message puts one on each line.
type mistakes []error

func (m mistakes) Error() string   { return errors.Join(m...).Error() }
func (m mistakes) Unwrap() []error { return m }

// joinedMessages returns the messages of the mistakes in err's chain, or
// nil. Other errors that wrap several (errors.Join, fmt.Errorf with two
// %w) are one failure and are not split.
func joinedMessages(err error) []string {
	var m mistakes
	if !errors.As(err, &m) {
		return nil
	}
	out := make([]string, len(m))
	for i, e := range m {
		out[i] = shown(e)
	}
	return out
}

// exec executes the command line args like run, without printing the
// error: it returns the command that ran, the exit code and the error.
func (a *app) exec(ctx context.Context, args []string) (*cobra.Command, int, error) {
	defer a.dropTempCache() // also for the agent's commands, which run through exec
	root := a.newRootCommand()
	root.SetArgs(args)
	if c, _, err := root.Find(args); err == nil && c != root {
		_ = c.InheritedFlags() // merges the persistent flags into c.Flags()
		if err := swallowedFlag(c, args); err != nil {
			// Before cobra counts the arguments: the flag taken for a
			// value left one over ("snapshots takes no arguments").
			return c, exitUsage, err
		}
	}
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && !a.started && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		// cobra parses the flags after an unknown command as the root's
		// and names the first it lacks instead of the command.
		if c, _, ferr := root.Find(args[:1]); ferr == nil && c == root {
			err = a.runRoot(root, args[:1])
		}
	}
	var ue *usageError
	if err != nil && !a.started && !errors.As(err, &ue) {
		err = &usageError{err} // cobra's own: unknown flag, wrong argument count
	}
	return cmd, exitCode(err, ctx.Err() != nil), err
}

// report prints err on stderr, one line (a line for each of several
// mistakes), with a pointer to --help for usage errors.
func (a *app) report(cmd *cobra.Command, err error, code int) {
	switch {
	case err == nil:
	case a.logJSON:
		slog.New(slog.NewJSONHandler(a.stderr, nil)).Error("agent stopped", "error", shown(err), "exit_code", code)
	case code == exitInterrupted:
		fmt.Fprintf(a.stderr, "wimsnap: %s\n", a.interrupted(cmd))
	case code == exitUsage:
		a.reportLines(err)
		if cmd != nil {
			fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
	default:
		a.reportLines(err)
	}
}

// interrupted is the message for cmd stopped by a signal.
func (a *app) interrupted(cmd *cobra.Command) string {
	if a.restoring(cmd) {
		return fmt.Sprintf("interrupted; the target is not complete: run the %s again to finish it", cmd.Name())
	}
	return "interrupted"
}

// restoring reports whether cmd is a restore, apply or extract that
// started writing into its target (not a dry run).
func (a *app) restoring(cmd *cobra.Command) bool {
	if cmd == nil || !a.started {
		return false
	}
	switch cmd.Name() {
	case "apply", "extract":
		return true
	case "restore":
		dry, err := cmd.Flags().GetBool("dry-run")
		return err == nil && !dry
	}
	return false
}

// reportLines prints err on stderr, one line, or one line for each of
// the mistakes it holds (see mistakes), each after err's own context
// ("agent config FILE: "); each line escaped as oneLine does.
func (a *app) reportLines(err error) {
	msg, msgs := shown(err), joinedMessages(err)
	joined := strings.Join(msgs, "\n") // as mistakes' Error joins them
	if len(msgs) < 2 || !strings.HasSuffix(msg, joined) {
		fmt.Fprintf(a.stderr, "wimsnap: %s\n", oneLine(msg))
		return
	}
	prefix := strings.TrimSuffix(msg, joined)
	for _, m := range msgs {
		fmt.Fprintf(a.stderr, "wimsnap: %s\n", oneLine(prefix+m))
	}
}

// newRootCommand builds the whole command tree for this run.
func (a *app) newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "wimsnap",
		Short: "Capture directory trees into WIM files and apply them",
		Long: `wimsnap captures Linux directory trees into WIM files (the format of DISM,
ConfigMgr, WDS and MDT, interoperable with wimlib-imagex) and applies them.

Flags are GNU style (--flag=value or --flag value) and may stand anywhere
on the line; a value that is itself a flag's name is written --flag=value.
` + exitCodesHelp,
		Args:          cobra.ArbitraryArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE:          a.runRoot,
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{plainFlagError(err)} })
	root.PersistentFlags().BoolVar(&a.json, "json", false, "print one JSON document on stdout instead of text; on exit codes other than 0 it holds \"error\" and \"exit_code\"")
	root.AddCommand(
		a.newCaptureCommand(), a.newAppendCommand(),
		a.newApplyCommand(), a.newExtractCommand(),
		a.newInfoCommand(), a.newDirCommand(),
		a.newVerifyCommand(), a.newOptimizeCommand(), a.newSplitCommand(), a.newDeleteCommand(),
		a.newExportImageCommand(),
		a.newInitCommand(), a.newSnapshotCommand(), a.newSnapshotsCommand(),
		a.newRestoreCommand(), a.newExportCommand(), a.newCheckCommand(),
		a.newRebuildIndexCommand(), a.newStatsCommand(),
		a.newLsCommand(), a.newDiffCommand(), a.newImportCommand(),
		a.newForgetCommand(), a.newPruneCommand(), a.newRepairCommand(), a.newUnlockCommand(),
		a.newAgentCommand(), a.newVersionCommand(),
	)
	// Not cobra's --version, which prints its template with --json too.
	root.Flags().BoolVar(&a.version, "version", false, "print the version, as 'wimsnap version' does")
	root.SetHelpCommand(newHelpCommand(root))
	return root
}

// newHelpCommand returns "wimsnap help [COMMAND...]", which prints a
// command's help as --help does, and fails as a usage error (exit 2) on a
// command that does not exist, where cobra's printed the overall help and
// exited 0.
func newHelpCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND...]",
		Short: "Help about any command",
		Args:  cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 || (target == root && len(args) > 0) {
				return usagef("unknown help topic %q", strings.Join(args, " "))
			}
			target.InitDefaultHelpFlag() // as on the command's own run, so that --help is listed
			return target.Help()
		},
	}
}

// runRoot handles a line without a known command: --version, or a
// mistake.
func (a *app) runRoot(cmd *cobra.Command, args []string) error {
	if a.version && len(args) == 0 {
		return a.printVersion()
	}
	if len(args) == 0 {
		return usagef("missing command")
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usagef("%s", msg)
}

// body wraps a command's body: errors it returns are run-time errors, not
// usage errors, unless it says so with usagef.
func (a *app) body(fn func(ctx context.Context, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a.started = true
		return fn(cmd.Context(), cmd, args)
	}
}

// newStatus returns the status line for this run: nil (no display) when
// stderr is not a terminal, or one that cannot move its cursor back
// (TERM=dumb: Emacs' shell, where "\r\x1b[K" shows as such), or the output
// is JSON.
func (a *app) newStatus() *statusLine {
	term, _ := a.lookup("TERM")
	return newStatusLine(a.stderr, a.stderrTTY && !a.json && term != "dumb", a.termWidth)
}

// newWarnings returns the warning collector for this run.
func (a *app) newWarnings(status *statusLine) *warnings {
	return &warnings{json: a.json, status: status, stderr: a.stderr}
}

// long appends the exit code table to the help text of a command that
// uses a repository.
func long(text string) string {
	return strings.TrimSpace(text) + "\n" + exitCodesHelp
}

// longWIM appends the exit code table of the commands on WIM files, which
// never return the repository's codes (10 to 12), to a command's help text.
func longWIM(text string) string {
	return strings.TrimSpace(text) + "\n" + exitCodesWIMHelp
}

// argsBetween accepts from min to max positional arguments (max < 0: no
// limit) and otherwise names the expected ones from the command's Use line.
func argsBetween(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= min && (max < 0 || len(args) <= max) {
			return nil
		}
		if max == 0 {
			return usagef("%s takes no arguments, got %s", cmd.Name(), plural(len(args), "argument"))
		}
		want := strings.TrimPrefix(cmd.Use, cmd.Name()+" ")
		if i := strings.Index(want, " [--"); i >= 0 {
			want = want[:i]
		}
		return usagef("%s: want %s, got %s", cmd.Name(), want, plural(len(args), "argument"))
	}
}
