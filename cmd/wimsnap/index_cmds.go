package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/snapshot"
)

const rebuildIndexHelp = `
Delete the local index of the repository and build it again from the
repository's index objects and manifests. Other commands do this by
themselves when the local index is missing or damaged; this forces it.
` + repoHelp + `

With --json, stdout receives one document:
  {"repository", "rebuilt", "reason", "index_objects_read", "manifests_read",
   "damaged", "missing_packs", "unindexed_snapshots",
   "warnings": [{"path", "error"}], "warnings_total"}
The warnings name each damaged object left out, and each snapshot whose
image no index object describes (path "repository").
It exits 1 when packs that the index names are missing, or when snapshots'
images are in no index object (an index object was lost): data is lost,
and snapshots that use it cannot be restored whole until 'wimsnap repair'.`

// rebuildSummary is the --json document of rebuild-index.
type rebuildSummary struct {
	Repository string `json:"repository"`
	snapshot.SyncStats
	Unindexed     int       `json:"unindexed_snapshots"`
	Warnings      []warning `json:"warnings"`
	WarningsTotal int64     `json:"warnings_total"`
}

func (a *app) newRebuildIndexCommand() *cobra.Command {
	var rf repoFlags
	cmd := &cobra.Command{
		Use:   "rebuild-index [--repo=LOCATION]",
		Short: "Rebuild the local index from the repository",
		Long:  long(rebuildIndexHelp),
		Args:  argsBetween(0, 0),
		RunE: a.body(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			warn := a.newWarnings(nil)
			r, err := a.openRepoWarn(ctx, &rf, false, a.syncWarn(warn))
			if err != nil {
				return err
			}
			st, err := r.Rebuild(ctx, a.syncWarn(warn))
			if err != nil {
				return err
			}
			if a.json {
				loc, _, _ := a.repoLocation(&rf)
				sum := rebuildSummary{Repository: loc, SyncStats: st, Unindexed: st.Unindexed}
				sum.Warnings, sum.WarningsTotal = warn.summary()
				err = writeJSON(a.stdout, sum)
			} else {
				_, err = fmt.Fprintf(a.stdout, "Rebuilt %s from %d index objects and %d manifests (%d damaged, %d packs missing, %d snapshots' images in no index object)\n",
					r.IndexPath(), st.Indexes, st.Snapshots, st.Damaged, st.MissingPacks, st.Unindexed)
			}
			switch {
			case err != nil:
			case st.MissingPacks > 0:
				err = fmt.Errorf("%w: %d packs that the index names are missing (see 'wimsnap check', then 'wimsnap repair')",
					snapshot.ErrRepoFormat, st.MissingPacks)
			case st.Unindexed > 0:
				err = fmt.Errorf("%w: %d snapshots' images are in no index object (see 'wimsnap check', then 'wimsnap repair')",
					snapshot.ErrRepoFormat, st.Unindexed)
			}
			return err
		}),
	}
	addRepoFlags(cmd, &rf)
	return cmd
}

const statsHelp = `
Show the repository's size: snapshots, packs, index objects, chunks (their
raw and stored bytes) and the file bytes all snapshots hold, which
deduplication and compression reduce to the stored bytes.
` + repoHelp + `

With --json, stdout receives one document:
  {"repository", "id", "codec", "snapshots", "packs", "pack_bytes", "index_objects",
   "chunks", "chunk_bytes", "stored_bytes", "snapshot_bytes", "warnings": [{"path", "error"}],
   "warnings_total"}
A snapshot whose manifest cannot be read is not counted, with a warning
("path": "repository"; on stderr without --json).`

// statsSummary is the --json document of stats; "id" is the repository's.
type statsSummary struct {
	Repository string `json:"repository"`
	snapshot.RepoStats
	Warnings      []warning `json:"warnings"`
	WarningsTotal int64     `json:"warnings_total"`
}

func (a *app) newStatsCommand() *cobra.Command {
	var rf repoFlags
	cmd := &cobra.Command{
		Use:   "stats [--repo=LOCATION]",
		Short: "Show the repository's size",
		Long:  long(statsHelp),
		Args:  argsBetween(0, 0),
		RunE: a.body(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			warn := a.newWarnings(nil)
			r, err := a.openRepoWarn(ctx, &rf, false, a.syncWarn(warn))
			if err != nil {
				return err
			}
			st, err := r.Stats(ctx)
			if err != nil {
				return err
			}
			if a.json {
				loc, _, _ := a.repoLocation(&rf)
				list, total := warn.summary()
				return writeJSON(a.stdout, statsSummary{Repository: loc, RepoStats: st, Warnings: list, WarningsTotal: total})
			}
			_, err = fmt.Fprintf(a.stdout, "Repository %s (%s chunks): %d snapshots holding %s; %d chunks of %s stored as %s in %d packs (%s), %d index objects\n",
				st.ID[:16], st.Codec, st.Snapshots, formatBytes(st.SnapshotBytes), st.Chunks, formatBytes(st.ChunkBytes),
				formatBytes(st.StoredBytes), st.Packs, formatBytes(st.PackBytes), st.IndexObjects)
			return err
		}),
	}
	addRepoFlags(cmd, &rf)
	return cmd
}
