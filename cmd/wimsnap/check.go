package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/snapshot"
)

const checkHelp = `
Check the repository. The structure check reads every index object and
manifest, and makes sure every chunk the index names lies inside a pack
that exists and every stream of every snapshot (its metadata first)
resolves to chunks. --read-data also reads every pack whole and checks its
id, its trailer, and every chunk's id after decompression.

--read-data-subset reads only some of the packs, for large repositories:
  n/t  group n of t (1 <= n <= t): the packs whose id's first 8 bytes, as
       a big-endian number, are n-1 modulo t. A pack's group depends on
       its id alone, so running 1/7 to 7/7 on seven nights reads every
       pack exactly once; a pack added meanwhile is read in its group's
       turn.
  N%   a random N percent of the packs (0 < N <= 100, e.g. 2.5%): N% of
       them rounded to a whole number, at least one.
The structure check still covers the whole repository, and damage in the
packs read is reported by snapshot and file as with --read-data. The two
flags exclude each other.

Problems are listed one a line, naming the pack, chunk, snapshot and file
concerned; the snapshots that cannot be restored whole are named. The exit
code is 1 when there are problems.
` + repoHelp + `

With --json, stdout receives one document:
  {"repository", "ok", "snapshots", "packs", "chunks", "streams_checked",
   "packs_read", "read_data_subset", "unreferenced_packs", "unused_unresolved_recipes",
   "problems": [...], "notes": [...], "damaged_snapshots": [...], "local_index_rebuilt",
   "duration_seconds", "requests"}
"local_index_rebuilt", present only when the check found the local index
damaged (it lacked a stream, or resolved one otherwise than the
repository's index objects) and rebuilt it, says why; that is not a
problem of the repository.
"notes" are what is not a problem: a snapshot whose image holds entries
every restore leaves out (named "." or "..", or as a sibling, as an import
of another tool's WIM may store them; wimlib-imagex leaves them out too).
"read_data_subset" is the subset read (as "3/7" or "2.5%"), present with
--read-data-subset only; "packs_read" counts the packs read.` + requestsHelp

func (a *app) newCheckCommand() *cobra.Command {
	var rf repoFlags
	var readData, noLock bool
	var subset string
	cmd := &cobra.Command{
		Use: "check [--repo=LOCATION] [--read-data | --read-data-subset=n/t|N%]",
		Example: `  wimsnap check
  wimsnap check --read-data-subset=10%`,
		Short: "Check the repository's structure (and with --read-data its contents)",
		Long:  long(checkHelp),
		Args:  argsBetween(0, 0),
		RunE: a.body(func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			opts, err := checkOptions(readData, subset, cmd.Flags().Changed("read-data-subset"))
			if err != nil {
				return err
			}
			opts.Lock.None = noLock
			return a.runCheck(ctx, &rf, opts)
		}),
	}
	addRepoFlags(cmd, &rf)
	addNoLockFlag(cmd, &noLock)
	cmd.Flags().BoolVar(&readData, "read-data", false, "also read and check every pack and chunk")
	cmd.Flags().StringVar(&subset, "read-data-subset", "",
		"also read and check the packs of group n of t (n/t) or a random N% of the packs (N%)")
	return cmd
}

// checkOptions turns check's data flags into options; subsetSet tells
// whether --read-data-subset was given. Bad flags are usage errors.
func checkOptions(readData bool, subset string, subsetSet bool) (snapshot.CheckOptions, error) {
	opts := snapshot.CheckOptions{ReadData: readData}
	if !subsetSet {
		return opts, nil
	}
	if readData {
		return opts, usagef("--read-data and --read-data-subset exclude each other (--read-data reads every pack)")
	}
	s, err := snapshot.ParseDataSubset(subset)
	var se *snapshot.SubsetError
	if errors.As(err, &se) {
		return opts, usagef("--read-data-subset=%s: %s; want %s", subset, se.Reason, snapshot.SubsetForms)
	}
	opts.Subset = s
	return opts, err
}

type checkSummary struct {
	Repository string `json:"repository"`
	OK         bool   `json:"ok"`
	snapshot.CheckResult
	DurationSeconds float64               `json:"duration_seconds"`
	Requests        *remote.RequestCounts `json:"requests,omitempty"`
}

func (a *app) runCheck(ctx context.Context, rf *repoFlags, opts snapshot.CheckOptions) error {
	start := a.now()
	r, err := a.openRepo(ctx, rf, false)
	if err != nil {
		return err
	}
	status := a.newStatus()
	tr := &verifyTracker{verb: "reading packs", items: "packs", start: a.now(), now: a.now}
	if opts.ReadData || !opts.Subset.IsZero() {
		status.start(func() string { return tr.render() })
	}
	opts.Progress = tr.update
	opts.Lock.Warn = a.lockWarn(status)
	res, err := r.Check(ctx, opts)
	err = noLockHint(err)
	status.finish()
	if err != nil && !errors.Is(err, snapshot.ErrCheckFailed) {
		// The check stopped before the end (the store could not be
		// read, say): its counts so far would read as a verdict.
		return fmt.Errorf("the check did not finish: %w", err)
	}
	loc, _, _ := a.repoLocation(rf)
	sum := checkSummary{Repository: loc, OK: err == nil, CheckResult: res, DurationSeconds: seconds(a.now().Sub(start)), Requests: a.requests()}
	if a.json {
		if jerr := writeJSON(a.stdout, sum); jerr != nil {
			return jerr
		}
		return err
	}
	if res.LocalIndexRebuilt != "" {
		fmt.Fprintf(a.stdout, "The local index was damaged and has been rebuilt from the repository (%s)\n", res.LocalIndexRebuilt)
	}
	for _, p := range res.Problems {
		fmt.Fprintf(a.stdout, "problem: %s\n", p)
	}
	for _, id := range res.Damaged {
		fmt.Fprintf(a.stdout, "damaged snapshot: %s\n", id)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(a.stdout, "note: %s\n", n)
	}
	verdict := "no problems found"
	if err != nil {
		verdict = plural(len(res.Problems), "problem") + ", " + plural(len(res.Damaged), "damaged snapshot")
	}
	read := fmt.Sprintf("%d read", res.PacksRead)
	if res.ReadDataSubset != "" {
		read += ": subset " + res.ReadDataSubset
	}
	if res.UnusedBroken > 0 {
		fmt.Fprintf(a.stdout, "%d delta recipes that nothing needs do not resolve (left by a prune stopped part way; the next prune drops them)\n",
			res.UnusedBroken)
	}
	fmt.Fprintf(a.stdout, "Checked %s: %s, %s (%s), %s, %s; %s; %s\n", loc, plural(res.Snapshots, "snapshot"),
		plural(res.Packs, "pack"), read, plural(res.Chunks, "chunk"), plural(res.Streams, "stream"),
		plural(res.Unreferenced, "unreferenced pack"), verdict)
	return err
}
