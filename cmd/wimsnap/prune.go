package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/snapshot"
)

const pruneHelp = `
Delete the data no snapshot needs any more (after 'forget'), and repack
packs that hold mostly such data.

Prune runs beside snapshots from other machines: it takes a prune lock,
which excludes only other prunes. It first writes an index naming only what
the snapshots use, then waits until the snapshots, restores and checks that
started before that index have finished (at most --wait), puts back what
those that committed meanwhile use, and only then deletes. When the wait
runs out, the condemned packs stay for the next prune (exit code 3), as
do packs the store fails to delete (warned about, exit code 3). A prune
interrupted at any point loses nothing; the next one finishes it.

Prune refuses to run, changing nothing, when a snapshot's data is damaged
or missing: run 'wimsnap check' and 'wimsnap repair' first.
` + repoHelp + `

With --json, stdout receives one document:
  {"repository", "dry_run", "snapshots", "packs", "bytes", "used_bytes",
   "unused_bytes", "packs_deleted", "packs_repacked", "packs_written",
   "bytes_freed", "index_objects_written", "index_objects_deleted",
   "chunks_kept_for_concurrent_snapshots", "packs_pending",
   "pending_reason", "temp_files_removed", "warnings": [{"path", "error"}],
   "warnings_total", "duration_seconds", "requests"}
"temp_files_removed" counts the temporary files that writers killed or
crashed left in a local repository over an hour ago, which prune removes.
With --dry-run, "packs_pending" counts the unused packs that no index
object names yet while another process holds a lock: they may be a
running snapshot's, which a prune would wait for (a warning says whose
lock); the dry run's exit code stays 0.` + requestsHelp

// pruneFlags are the options of prune, also offered by forget --prune.
type pruneFlags struct {
	maxUnused string
	wait      time.Duration
	dryRun    bool
}

func addPruneFlags(cmd *cobra.Command, f *pruneFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.maxUnused, "max-unused", "5%",
		"unused data tolerated in kept packs, as a share of the used data (\"10%\"), or \"unlimited\" (no repacking)")
	fl.DurationVar(&f.wait, "wait", snapshot.DefaultPruneWait,
		"how long to wait for snapshots that started before the prune's new index")
}

func (a *app) newPruneCommand() *cobra.Command {
	var rf repoFlags
	var pf pruneFlags
	cmd := &cobra.Command{
		Use:   "prune [--repo=LOCATION] [--max-unused=5%] [--wait=30m] [--dry-run]",
		Short: "Delete the data no snapshot needs",
		Long:  long(pruneHelp),
		Args:  argsBetween(0, 0),
		RunE: a.body(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			opts, err := pf.options()
			if err != nil {
				return err
			}
			warn := a.newWarnings(a.newStatus())
			r, err := a.openRepoWarn(ctx, &rf, false, a.syncWarn(warn))
			if err != nil {
				return err
			}
			loc, _, _ := a.repoLocation(&rf)
			return a.runPrune(ctx, r, loc, opts, warn)
		}),
	}
	addRepoFlags(cmd, &rf)
	addPruneFlags(cmd, &pf)
	cmd.Flags().BoolVar(&pf.dryRun, "dry-run", false, "report what would be deleted and repacked, changing nothing")
	return cmd
}

// options turns the flags into PruneOptions.
func (f *pruneFlags) options() (snapshot.PruneOptions, error) {
	mu, err := parseMaxUnused(f.maxUnused)
	if err != nil {
		return snapshot.PruneOptions{}, err
	}
	if f.wait <= 0 {
		return snapshot.PruneOptions{}, usagef("--wait=%v: want a positive duration such as 30m", f.wait)
	}
	return snapshot.PruneOptions{MaxUnused: mu, Wait: f.wait, DryRun: f.dryRun}, nil
}

// parseMaxUnused reads "N%" (0 to 1000) or "unlimited" as a share, -1
// for unlimited.
func parseMaxUnused(s string) (float64, error) {
	if s == "unlimited" {
		return -1, nil
	}
	n, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if !strings.HasSuffix(s, "%") || err != nil || n < 0 || n > 1000 {
		return 0, usagef("--max-unused=%s: want a percentage such as 5%% (0%% to 1000%%) or \"unlimited\"", s)
	}
	if n == 0 {
		return 1e-9, nil // 0 would mean the default
	}
	return n / 100, nil
}

// pruneSummary is the --json document of prune.
type pruneSummary struct {
	Repository string `json:"repository"`
	DryRun     bool   `json:"dry_run"`
	snapshot.PruneResult
	Warnings        []warning             `json:"warnings"`
	WarningsTotal   int64                 `json:"warnings_total"`
	DurationSeconds float64               `json:"duration_seconds"`
	Requests        *remote.RequestCounts `json:"requests,omitempty"`
}

// runPrune prunes r and reports.
func (a *app) runPrune(ctx context.Context, r *snapshot.Repo, loc string, opts snapshot.PruneOptions, warn *warnings) error {
	sum, err := a.prune(ctx, r, loc, opts, warn)
	if sum == nil {
		return err
	}
	if a.json {
		if jerr := writeJSON(a.stdout, sum); jerr != nil {
			return jerr
		}
	} else {
		a.printPrune(*sum)
	}
	return err
}

// prune prunes r, showing progress on warn's status line on a terminal,
// and returns its summary (nil when it failed), whose warnings are those
// given to warn (the repository's own, opened with it, too), and, when it
// left packs for a later prune, a partialError.
func (a *app) prune(ctx context.Context, r *snapshot.Repo, loc string, opts snapshot.PruneOptions, warn *warnings) (*pruneSummary, error) {
	start := a.now()
	status := warn.status
	st := &stageTracker{}
	status.start(st.render)
	opts.Progress = st.update
	opts.Warn = func(err error) { warn.warn("prune", err) }
	res, err := r.Prune(ctx, opts)
	status.finish()
	if err != nil {
		return nil, err
	}
	list, total := warn.summary()
	sum := &pruneSummary{Repository: loc, DryRun: opts.DryRun, PruneResult: res, Warnings: list, WarningsTotal: total,
		DurationSeconds: seconds(a.now().Sub(start)), Requests: a.requests()}
	if res.Pending > 0 && !opts.DryRun { // a dry run's pending packs are a forecast
		return sum, &partialError{what: plural(res.Pending, "pack") + " left for a later prune"}
	}
	return sum, nil
}

func (a *app) printPrune(s pruneSummary) {
	verb, freed := "deleted", "freed"
	if s.DryRun {
		verb, freed = "would delete", "would free"
	}
	fmt.Fprintf(a.stdout, "%s: %s; %s, %s, of which %s used\n", s.Repository, plural(s.Snapshots, "snapshot"),
		plural(s.Packs, "pack"), formatBytes(s.Bytes), formatBytes(s.UsedBytes))
	// Repacked packs are counted apart: one a snapshot running meanwhile
	// keeps is repacked and not deleted ("deleted 0 packs (1 of them...").
	repacked := fmt.Sprintf("repacked %d into %s", s.PacksRepacked, plural(s.PacksWritten, "new pack"))
	if s.DryRun { // how many packs the kept chunks fill is known only once written
		repacked = fmt.Sprintf("would repack %d", s.PacksRepacked)
	}
	size := freed + " " + formatBytes(s.BytesFreed)
	if s.BytesFreed < 0 {
		// The new packs are written before the old ones may go: a prune
		// that leaves those for later ends larger, until that prune.
		size = "the repository grew by " + formatBytes(-s.BytesFreed) + " until a later prune deletes the packs left"
	}
	fmt.Fprintf(a.stdout, "%s %s; %s; %s\n", verb, plural(s.PacksDeleted, "pack"), repacked, size)
	if s.KeptForRunning > 0 {
		fmt.Fprintf(a.stdout, "kept %s that snapshots running meanwhile use\n", plural(s.KeptForRunning, "chunk"))
	}
	if s.Pending > 0 {
		left := "left"
		if s.DryRun {
			left = "would be left"
		}
		fmt.Fprintf(a.stdout, "%s %s for a later prune: %s\n", plural(s.Pending, "pack"), left, s.PendingWhy)
	}
	if s.TempFiles > 0 {
		fmt.Fprintf(a.stdout, "removed %s left by killed writers\n", plural(s.TempFiles, "temporary file"))
	}
}

// stageTracker renders prune's progress: its stage and how far it got.
type stageTracker struct {
	mu          sync.Mutex
	stage       string
	done, total int64
}

func (t *stageTracker) update(stage string, done, total int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stage, t.done, t.total = stage, done, total
}

func (t *stageTracker) render() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.total == 0 {
		return t.stage
	}
	return fmt.Sprintf("%s: %d of %d", t.stage, t.done, t.total)
}
