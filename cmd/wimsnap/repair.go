package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/snapshot"
)

const repairHelp = `
Make a damaged repository consistent again, keeping all that is intact:
after a lost index object, a pack deleted or damaged on the server, a
flipped byte. Repair holds the exclusive lock (no snapshot runs meanwhile),
reads every pack and trusts only chunks that expand to their ids.

It copies the intact chunks of damaged packs into new packs; rebuilds the
index from the packs' own trailers (a lost index object loses no chunk,
and files of up to 32 KiB whose recipes it held are found again, larger
ones when this machine's local index still holds their recipes); writes
each snapshot that lost files again without them, tagged "repaired", and
removes a snapshot whose image itself is lost. An image or a manifest that
this machine's cache still holds intact (the local index, the images of
recent snapshots) is stored again from there rather than lost. It lists
every snapshot and file lost. Writes come first and deletions last, so a repair that stops
can be run again; the next snapshot of a machine that still has a lost
file stores it again. The retired objects of a prune that did not finish
(its wait ran out, or it was killed) are ended the same way: what they
name goes back into the index, for a snapshot that committed meanwhile
may use it.

--dry-run reports what repair would do, changing nothing. The exit code is
0 when the repository is consistent afterwards (or, with --dry-run, was
found undamaged), 1 when repair found damage and --dry-run was given.
` + repoHelp + `

With --json, stdout receives one document:
  {"repository", "dry_run", "packs_read", "damaged_packs", "missing_packs",
   "damaged_index_objects", "lost_chunks", "lost_streams", "packs_written",
   "index_objects_written", "retired_objects", "manifests_restored", "recipes_restored", "recipes_rebuilt",
   "misplaced_index_entries",
   "snapshots": [{"id", "new_id", "removed",
   "lost_files", "why"}], "warnings": [{"path", "error"}], "warnings_total",
   "duration_seconds", "requests"}` + requestsHelp

func (a *app) newRepairCommand() *cobra.Command {
	var rf repoFlags
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "repair [--repo=LOCATION] [--dry-run]",
		Short: "Salvage a damaged repository: keep what is intact, name what was lost",
		Long:  long(repairHelp),
		Args:  argsBetween(0, 0),
		RunE: a.body(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			return a.runRepair(ctx, &rf, dryRun)
		}),
	}
	addRepoFlags(cmd, &rf)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report the damage and what repair would do, changing nothing")
	return cmd
}

// repairSummary is the --json document of repair.
type repairSummary struct {
	Repository string `json:"repository"`
	DryRun     bool   `json:"dry_run"`
	snapshot.RepairResult
	Warnings        []warning             `json:"warnings"`
	WarningsTotal   int64                 `json:"warnings_total"`
	DurationSeconds float64               `json:"duration_seconds"`
	Requests        *remote.RequestCounts `json:"requests,omitempty"`
}

func (a *app) runRepair(ctx context.Context, rf *repoFlags, dryRun bool) error {
	start := a.now()
	status := a.newStatus()
	warn := a.newWarnings(status)
	r, err := a.openRepoWarn(ctx, rf, false, a.syncWarn(warn))
	if err != nil {
		return err
	}
	st := &stageTracker{}
	status.start(st.render)
	res, err := r.Repair(ctx, snapshot.RepairOptions{DryRun: dryRun, Progress: st.update,
		Warn: func(err error) { warn.warn("repair", err) }})
	status.finish()
	if err != nil {
		return err
	}
	loc, _, _ := a.repoLocation(rf)
	sum := repairSummary{Repository: loc, DryRun: dryRun, RepairResult: res,
		DurationSeconds: seconds(a.now().Sub(start)), Requests: a.requests()}
	sum.Warnings, sum.WarningsTotal = warn.summary()
	if a.json {
		err = writeJSON(a.stdout, sum)
	} else {
		a.printRepair(sum)
	}
	if err == nil && dryRun && res.Damaged() {
		err = fmt.Errorf("the repository is damaged (run 'wimsnap repair' without --dry-run)")
	}
	return err
}

func (a *app) printRepair(s repairSummary) {
	w := a.stdout
	for _, p := range s.MissingPacks {
		fmt.Fprintf(w, "missing pack %s\n", p)
	}
	for _, p := range s.DamagedPacks {
		fmt.Fprintf(w, "damaged pack %s: its intact chunks are copied\n", p)
	}
	for _, o := range s.DamagedIndex {
		fmt.Fprintf(w, "damaged index: %s\n", o)
	}
	for _, id := range s.Manifests {
		fmt.Fprintf(w, "snapshot %s: its damaged manifest is put back from the local index\n", id[:8])
	}
	for _, sn := range s.Snapshots {
		fmt.Fprintln(w, repairedLine(sn))
	}
	if s.Retired > 0 {
		fmt.Fprintf(w, "%d retired objects of an unfinished prune: their data goes back into the index\n", s.Retired)
	}
	if s.Rebuilt > 0 {
		fmt.Fprintf(w, "%d recipes of one-chunk files lost with an index object are made again from their chunks\n", s.Rebuilt)
	}
	if s.Recipes > 0 {
		fmt.Fprintf(w, "%d recipes of files lost with an index object are taken from the local index\n", s.Recipes)
	}
	if s.Misplaced > 0 {
		fmt.Fprintf(w, "%d index entries give chunks places their packs do not: the new index takes the packs'\n", s.Misplaced)
	}
	verdict := "no damage found"
	if s.Damaged() && s.DryRun {
		verdict = "damage found; nothing changed (dry run)"
	} else if s.Damaged() {
		verdict = fmt.Sprintf("repaired: %d packs written, %d index objects written", s.SalvagedPacks, s.IndexWritten)
	}
	fmt.Fprintf(w, "%s: %d packs read, %d chunks and %d streams lost; %s\n", s.Repository, s.PacksRead, s.LostChunks,
		s.LostStreams, verdict)
}

// repairedLine tells what became of one snapshot that lost data: removed,
// or written again (or, in a dry run, to be) without the files it lost,
// with why when repair gave a reason.
func repairedLine(sn snapshot.RepairedSnapshot) string {
	if sn.Removed {
		return fmt.Sprintf("snapshot %s is lost (%s)", sn.ID[:8], sn.Why)
	}
	line := fmt.Sprintf("snapshot %s lost %d files", sn.ID[:8], len(sn.LostFiles))
	if sn.Why != "" {
		line += " (" + sn.Why + ")"
	}
	if sn.NewID != "" {
		line += ", written again as " + sn.NewID[:8]
	}
	if len(sn.LostFiles) > 0 {
		line += ": " + strings.Join(sn.LostFiles, ", ")
	}
	return line
}
