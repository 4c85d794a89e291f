package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wimsnap/wimsnap/scheduler"
	"github.com/wimsnap/wimsnap/snapshot"
)

const forgetHelp = `
Remove snapshots from the repository: those named (SNAP: an id, a unique
prefix of one, or "latest"), or those a retention policy does not keep.
A snapshot whose manifest is damaged (see 'wimsnap check') is removed by
naming its id.
Their data stays until 'wimsnap prune' (or --prune) deletes what no other
snapshot uses. A SNAP that is not there is skipped rather than refused,
so that a forget stopped part way (during its removals or its prune) can
be run again with the same line to the end: the rest goes, the prune
runs, and forget names the SNAPs it skipped and exits with code 3. A SNAP
that is the prefix of more than one id is refused, and nothing goes.

The policy keeps, in each group of snapshots (by default the snapshots of
one host and source; --group-by), the newest snapshot of each of the last
N hours, days, weeks (ISO weeks), months and years that have snapshots,
the N newest (--keep-last), those within a span of the newest
(--keep-within 7d, 2w, 1y, 36h, 1y6w: y years of 365 days, w weeks, d
days, then h hours, m minutes, s seconds; there is no month unit, and m
is minutes), and those with a given tag. A count of -1
means unlimited. Periods are counted in --time-zone (default: the local
zone), so a daylight saving change does not shift days; the listing shows
times in that zone too. Without any
--keep-* option and without SNAP, forget refuses to run.

--host, --tag and --path limit forget to the snapshots that match: a
SNAP they do not select is refused (nothing goes), and "latest" is the
newest they select. A --path matches as given and as snapshot records a source: absolute (a
relative one from the working directory) and cleaned, so /srv/ and
/srv/data/.. name /srv (on Windows in any letter case, as snapshot records
C:\Data for c:\data). An imported image's source is the WIM's path, "#"
and the image number (/srv/x.wim#1); a directory of that name is a source
of its own, which groups apart as /srv/x.wim#1/ and which --path names
with that final separator. With --dry-run it lists what would go and why each kept snapshot is kept,
changing nothing. Forget takes a shared lock to remove snapshots (none
for a dry run, or when it removes none): snapshots from other hosts may
run at the same time.
` + repoHelp + `

With --json, stdout receives one document:
  {"repository", "dry_run", "groups": [{"key", "keep": [{"id", "time",
   "host", "source", "source_bytes", "tags", "reasons"}], "remove": [...]}],
   "removed", "prune": {...prune's document...}, "error"}
"error" is there when removing a snapshot failed; "removed" then counts
those that were removed.
"source_bytes" is there when the source path is not valid UTF-8: its
exact bytes in base64.`

type forgetFlags struct {
	repoFlags
	pruneFlags
	last, hourly, daily, weekly, monthly, yearly int
	within                                       string
	keepTags                                     []string
	groupBy, timeZone                            string
	snapFilter
	prune bool
	// keepGiven: a --keep-* option was given, whatever its value.
	keepGiven bool
}

func (a *app) newForgetCommand() *cobra.Command {
	f := &forgetFlags{}
	cmd := &cobra.Command{
		Use: "forget [SNAP...] [--repo=LOCATION] [--keep-last=N] [--keep-daily=N]... [--dry-run] [--prune]",
		Example: `  wimsnap forget --keep-daily=7 --keep-weekly=4 --dry-run
  wimsnap forget --keep-last=3 --prune
  wimsnap forget 1a2b3c`,
		Short: "Remove snapshots, named or by a retention policy",
		Long:  long(forgetHelp),
		Args:  argsBetween(0, -1),
		RunE: a.body(func(ctx context.Context, cmd *cobra.Command, args []string) error {
			f.keepGiven = false
			cmd.Flags().Visit(func(fl *pflag.Flag) { f.keepGiven = f.keepGiven || strings.HasPrefix(fl.Name, "keep-") })
			return a.runForget(ctx, f, args)
		}),
	}
	addRepoFlags(cmd, &f.repoFlags)
	addPruneFlags(cmd, &f.pruneFlags)
	fl := cmd.Flags()
	fl.IntVar(&f.last, "keep-last", 0, "keep the N newest snapshots")
	fl.IntVar(&f.hourly, "keep-hourly", 0, "keep the newest snapshot of each of the last N hours with snapshots")
	fl.IntVar(&f.daily, "keep-daily", 0, "keep the newest snapshot of each of the last N days with snapshots")
	fl.IntVar(&f.weekly, "keep-weekly", 0, "keep the newest snapshot of each of the last N weeks with snapshots")
	fl.IntVar(&f.monthly, "keep-monthly", 0, "keep the newest snapshot of each of the last N months with snapshots")
	fl.IntVar(&f.yearly, "keep-yearly", 0, "keep the newest snapshot of each of the last N years with snapshots")
	fl.StringVar(&f.within, "keep-within", "", "keep the snapshots within this span of the newest (7d, 2w, 1y, 36h)")
	fl.StringArrayVar(&f.keepTags, "keep-tag", nil, "keep the snapshots with this tag (repeatable)")
	fl.StringVar(&f.groupBy, "group-by", "host,paths", "apply the policy per group of these fields: host, paths, tags (\"\" for one group)")
	fl.StringVar(&f.timeZone, "time-zone", "", "the time zone periods are counted in (default: local)")
	addSnapFilterFlags(cmd, &f.snapFilter, "only")
	fl.BoolVar(&f.dryRun, "dry-run", false, "list what would be removed and why the rest is kept, changing nothing")
	fl.BoolVar(&f.prune, "prune", false, "prune after removing the snapshots")
	return cmd
}

// policy reads the --keep-* flags.
func (f *forgetFlags) policy() (scheduler.Policy, error) {
	p := scheduler.Policy{Last: f.last, Hourly: f.hourly, Daily: f.daily, Weekly: f.weekly,
		Monthly: f.monthly, Yearly: f.yearly, Tags: f.keepTags}
	if f.within != "" {
		d, err := parseSpan(f.within)
		if err != nil {
			return p, usagef("--keep-within=%s: %v", f.within, err)
		}
		p.Within = d
	}
	if err := p.Validate(); err != nil {
		return p, usagef("%v", err)
	}
	return p, nil
}

// maxSpan bounds --keep-within (no sum of its parts overflows).
const maxSpan = 100 * 365 * 24 * time.Hour

// parseSpan reads a span such as 7d, 2w, 1y, 1y6w, 7d12h or 90m: whole
// numbers of years (365 days), weeks and days, then what
// time.ParseDuration reads (1.5h, 90m, 500ms), each unit at most once and
// in that order, and at most maxSpan in all.
func parseSpan(s string) (time.Duration, error) {
	days := []struct {
		letter byte
		d      time.Duration
	}{{'y', 365 * 24 * time.Hour}, {'w', 7 * 24 * time.Hour}, {'d', 24 * time.Hour}}
	tooLong := fmt.Errorf("longer than %d years", maxSpan/days[0].d)
	var total time.Duration
	rest, next := s, 0 // next: the first of days the rest may use
	for rest != "" {
		i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		u := next
		for i > 0 && u < len(days) && days[u].letter != rest[i] {
			u++
		}
		if i <= 0 || u == len(days) {
			break // the time.ParseDuration part
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		// Compared before it is added: the sum would overflow (585
		// years wrapped to 21 days, which forget kept instead).
		if err != nil || n > int64((maxSpan-total)/days[u].d) {
			return 0, tooLong
		}
		total += time.Duration(n) * days[u].d
		rest, next = rest[i+1:], u+1
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 || !unitsInOrder(rest) {
			return 0, fmt.Errorf("want a span such as 7d, 2w, 1y, 36h or 1y6w (y, w, d, then h, m, s, in that order, each once)")
		}
		if d > maxSpan-total {
			return 0, tooLong
		}
		total += d
	}
	if total <= 0 {
		return 0, fmt.Errorf("want a positive span such as 7d, 2w, 1y or 36h")
	}
	return total, nil
}

// unitsInOrder reports whether the units of s, a time.ParseDuration text,
// go from the largest to the smallest, each once: that function adds up
// 1h1h, and 30m1h.
func unitsInOrder(s string) bool {
	order := []string{"h", "m", "s", "ms", "us", "ns"}
	last := -1
	for s != "" {
		s = strings.TrimLeft(s, "0123456789.")
		end := strings.IndexAny(s, "0123456789.")
		if end < 0 {
			end = len(s)
		}
		unit := strings.ReplaceAll(strings.ReplaceAll(s[:end], "µ", "u"), "μ", "u")
		k := slices.Index(order, unit)
		if k <= last {
			return false
		}
		last, s = k, s[end:]
	}
	return true
}

// forgetGroup is one group of --json output.
type forgetGroup struct {
	Key    string       `json:"key"`
	Keep   []forgetSnap `json:"keep"`
	Remove []forgetSnap `json:"remove"`
}

// forgetSnap is a snapshot in forget's output.
type forgetSnap struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Host    string    `json:"host"`
	Source  string    `json:"source"`
	SourceB []byte    `json:"source_bytes,omitempty"` // see rawPath
	Tags    []string  `json:"tags"`
	Reasons []string  `json:"reasons,omitempty"`
}

// forgetSummary is the --json document of forget.
type forgetSummary struct {
	Repository string        `json:"repository"`
	DryRun     bool          `json:"dry_run"`
	Groups     []forgetGroup `json:"groups"`
	Removed    int           `json:"removed"`
	Prune      *pruneSummary `json:"prune,omitempty"`
	// Error is why removing failed, after Removed snapshots were.
	Error string `json:"error,omitempty"`
	// zone is --time-zone's, in which the text shows times, as the
	// policy counted its periods.
	zone *time.Location
}

func (a *app) runForget(ctx context.Context, f *forgetFlags, args []string) error {
	pol, err := f.policy()
	if err != nil {
		return err
	}
	if len(args) > 0 && (!pol.Empty() || f.keepGiven) {
		return usagef("forget: give snapshots or --keep-* options, not both")
	}
	switch {
	case len(args) == 0 && pol.Empty() && f.keepGiven:
		return usagef("forget: the --keep-* options given keep nothing (0 of each); forget removes nothing without a policy that keeps something")
	case len(args) == 0 && pol.Empty():
		return usagef("forget: no --keep-* option and no snapshot given; forget removes nothing without a policy")
	}
	by, err := scheduler.ParseGroupBy(f.groupBy)
	if err != nil {
		return usagef("--group-by=%s: %w", f.groupBy, err)
	}
	zone, err := f.zone()
	if err != nil {
		return err
	}
	pruneOpts, err := f.options()
	if err != nil {
		return err
	}
	// The repository's warnings go to stderr, or with --prune --json to
	// the prune document's warnings, forget's having none.
	warn := a.newWarnings(a.newStatus())
	warn.json = a.json && f.prune
	r, err := a.openRepoWarn(ctx, &f.repoFlags, false, a.syncWarn(warn))
	if err != nil {
		return err
	}
	list, err := r.Snapshots(ctx)
	if err != nil {
		return err
	}
	var groups []forgetGroup
	var gone []*snapshot.Manifest
	var missing []string // named, and not there
	if len(args) > 0 {
		damaged := func(ref string) (string, error) { return r.FindDamaged(ctx, ref, list) }
		groups, gone, missing, err = forgetNamed(list, f.keep(list), f.set(), args, damaged)
	} else {
		groups, gone = forgetByPolicy(f.keep(list), pol, by, zone)
	}
	if err != nil {
		return err
	}
	loc, _, _ := a.repoLocation(&f.repoFlags)
	sum := forgetSummary{Repository: loc, DryRun: f.dryRun, Groups: groups, zone: zone}
	if f.dryRun {
		pruneOpts.Forgotten = gone // the preview prunes as if they were gone
	}
	if !f.dryRun && len(gone) > 0 {
		sum.Removed, err = r.Forget(ctx, gone, snapshot.LockOptions{Warn: a.lockWarn(nil)})
		if err != nil {
			// Say how many went before the error (which names those
			// that failed); it decides the exit code.
			sum.Error = shown(err)
			_ = a.printForgetSummary(sum) // err decides the exit code
			return err
		}
	}
	if err := a.finishForget(ctx, r, f, sum, pruneOpts, warn); err != nil || len(missing) == 0 {
		return err
	}
	return &partialError{what: fmt.Sprintf("no such snapshot, skipped: %s", strings.Join(missing, ", "))}
}

// printForgetSummary prints sum as text, or with --json as a document.
func (a *app) printForgetSummary(sum forgetSummary) error {
	if a.json {
		return writeJSON(a.stdout, sum)
	}
	a.printForget(sum)
	return nil
}

// finishForget prints the outcome and prunes when asked, the prune's
// warnings going to warn.
func (a *app) finishForget(ctx context.Context, r *snapshot.Repo, f *forgetFlags, sum forgetSummary, opts snapshot.PruneOptions, warn *warnings) error {
	if !f.prune {
		return a.printForgetSummary(sum)
	}
	if !a.json {
		a.printForget(sum)
		return a.runPrune(ctx, r, sum.Repository, opts, warn)
	}
	// One document: prune's inside forget's.
	var pruneErr error
	sum.Prune, pruneErr = a.prune(ctx, r, sum.Repository, opts, warn)
	if err := writeJSON(a.stdout, sum); err != nil {
		return err
	}
	return pruneErr
}

func (f *forgetFlags) zone() (*time.Location, error) {
	if f.timeZone == "" {
		return time.Local, nil
	}
	z, err := time.LoadLocation(f.timeZone)
	if err != nil {
		return nil, usagef("--time-zone=%s: %v", f.timeZone, err)
	}
	return z, nil
}

// forgetNamed resolves the snapshots named on the command line, among
// selected (those --host, --tag and --path select) when filtered, else
// among list ("latest" always among selected). A ref that matches no
// snapshot, forgotten already by a run that was stopped part way or never
// there, is listed, quoted, in missing; one that matches more than one, or
// with filtered a snapshot they do not select, is an error, and so is one
// whose manifest a newer wimsnap wrote (damaged's error).
func forgetNamed(list, selected []*snapshot.Manifest, filtered bool, refs []string, damaged func(ref string) (string, error)) (groups []forgetGroup, gone []*snapshot.Manifest, missing []string, err error) {
	g := forgetGroup{Keep: []forgetSnap{}, Remove: []forgetSnap{}}
	for _, ref := range refs {
		in := list
		if filtered || strings.EqualFold(ref, "latest") {
			in = selected
		}
		m, err := snapshot.FindIn(in, ref)
		if filtered && strings.EqualFold(ref, "latest") && len(selected) == 0 && len(list) > 0 {
			// Skipped, as a SNAP that is not there, saying why.
			missing = append(missing, fmt.Sprintf("%q (none of the %d snapshots matches --host, --tag and --path)", ref, len(list)))
			continue
		}
		if filtered && !strings.EqualFold(ref, "latest") && errors.Is(err, snapshot.ErrSnapshotNotFound) {
			if _, ferr := snapshot.FindIn(list, ref); ferr == nil {
				return nil, nil, nil, fmt.Errorf("snapshot %s is not one that --host, --tag and --path select; nothing was removed", ref)
			}
		}
		var reasons []string
		if errors.Is(err, snapshot.ErrSnapshotAmbiguous) || err != nil && !errors.Is(err, snapshot.ErrSnapshotNotFound) {
			return nil, nil, nil, err
		}
		if err != nil {
			// A manifest that cannot be read can only be named by its id.
			id, err := damaged(ref)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%w; nothing was removed", err)
			}
			if id == "" {
				missing = append(missing, strconv.Quote(ref)+" (forgotten already?)")
				continue
			}
			m, reasons = &snapshot.Manifest{ID: id}, []string{"damaged manifest"}
		}
		if !slices.ContainsFunc(gone, func(o *snapshot.Manifest) bool { return o.ID == m.ID }) {
			gone = append(gone, m)
			g.Remove = append(g.Remove, snapOut(m, reasons))
		}
	}
	return []forgetGroup{g}, gone, missing, nil
}

// forgetByPolicy applies the policy to each group.
func forgetByPolicy(list []*snapshot.Manifest, pol scheduler.Policy, by scheduler.GroupBy, zone *time.Location) ([]forgetGroup, []*snapshot.Manifest) {
	byID := map[string]*snapshot.Manifest{}
	snaps := make([]scheduler.Snapshot, len(list))
	for i, m := range list {
		byID[m.ID] = m
		snaps[i] = scheduler.Snapshot{ID: m.ID, Time: m.Time, Host: m.Host, Paths: []string{m.SourceKey()}, Tags: m.Tags}
	}
	groups := []forgetGroup{} // [] in JSON when no snapshot matches, not null
	var gone []*snapshot.Manifest
	for _, g := range scheduler.Groups(snaps, by) {
		out := forgetGroup{Key: g.Key, Keep: []forgetSnap{}, Remove: []forgetSnap{}}
		for _, d := range scheduler.Apply(pol, g.Snapshots, zone) {
			m := byID[d.Snapshot.ID]
			if d.Keep {
				out.Keep = append(out.Keep, snapOut(m, d.Reasons))
			} else {
				out.Remove = append(out.Remove, snapOut(m, nil))
				gone = append(gone, m)
			}
		}
		groups = append(groups, out)
	}
	return groups, gone
}

func snapOut(m *snapshot.Manifest, reasons []string) forgetSnap {
	return forgetSnap{ID: m.ID, Time: m.Time, Host: m.Host, Source: m.Source, SourceB: rawPath(m.Source), Tags: nonNil(m.Tags), Reasons: reasons}
}

// timeText shows t in the summary's zone (local when it has none), with
// the zone's name when that is not the local one.
func (s forgetSummary) timeText(t time.Time) string {
	if s.zone == nil || s.zone == time.Local {
		return t.Local().Format("2006-01-02 15:04:05")
	}
	return t.In(s.zone).Format("2006-01-02 15:04:05 MST")
}

func (a *app) printForget(s forgetSummary) {
	for _, g := range s.Groups {
		if g.Key != "" {
			fmt.Fprintf(a.stdout, "group %s:\n", g.Key)
		}
		for _, k := range g.Keep {
			fmt.Fprintf(a.stdout, "  keep    %s  %s  %s %s  (%s)\n", k.ID[:8], s.timeText(k.Time),
				printable(k.Host), printable(k.Source), strings.Join(k.Reasons, ", "))
		}
		for _, k := range g.Remove {
			if k.Time.IsZero() { // a damaged manifest: no more is known
				fmt.Fprintf(a.stdout, "  remove  %s  (%s)\n", k.ID[:8], strings.Join(k.Reasons, ", "))
				continue
			}
			fmt.Fprintf(a.stdout, "  remove  %s  %s  %s %s\n", k.ID[:8], s.timeText(k.Time), printable(k.Host), printable(k.Source))
		}
	}
	n := 0
	for _, g := range s.Groups {
		n += len(g.Remove)
	}
	if s.DryRun {
		fmt.Fprintf(a.stdout, "%s: would remove %s (dry run)\n", s.Repository, plural(n, "snapshot"))
		return
	}
	fmt.Fprintf(a.stdout, "%s: removed %s\n", s.Repository, plural(s.Removed, "snapshot"))
}
