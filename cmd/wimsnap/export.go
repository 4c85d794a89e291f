package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/snapshot"
)

const exportHelp = `
Write the snapshots SNAP... (ids, unique prefixes, or "latest") as images
1, 2, ... of a new WIM file WIMFILE, deployable with DISM, ConfigMgr or
wimlib-imagex. The WIM is in the repository's codec and its chunks are
copied as stored, not compressed again, so an export takes a fraction of a
capture's time. Each image keeps the snapshot's name, description, display
name and description, flags, creator and version, and its creation time
(an imported image's own, else the snapshot's); a name used twice gets the
snapshot's short id appended. WIMFILE is written beside and renamed into
place when complete.
A local index found damaged is rebuilt from the repository and warned
about on stderr.
` + repoHelp + `

With --json, stdout receives one document:
  {"wim", "snapshots", "images", "streams", "bytes", "chunks_copied",
   "streams_recompressed", "wim_size", "duration_seconds"}`

type exportFlags struct {
	repoFlags
	check   bool
	boot    int
	threads int
	noLock  bool
}

func (a *app) newExportCommand() *cobra.Command {
	f := &exportFlags{}
	cmd := &cobra.Command{
		Use:   "export SNAP... WIMFILE [--repo=LOCATION] [--check] [--boot=N]",
		Short: "Write snapshots as the images of a WIM file",
		Long:  long(exportHelp),
		Args:  argsBetween(2, -1),
		RunE: a.body(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.runExport(ctx, f, args[:len(args)-1], args[len(args)-1])
		}),
	}
	addRepoFlags(cmd, &f.repoFlags)
	addNoLockFlag(cmd, &f.noLock)
	fl := cmd.Flags()
	fl.BoolVar(&f.check, "check", false, "write an integrity table")
	fl.IntVar(&f.boot, "boot", 0, "mark image N (1-based) bootable")
	fl.IntVar(&f.threads, "threads", 0, "compression threads for streams that need recompressing (default: number of CPUs)")
	return cmd
}

type exportSummary struct {
	WIM       string   `json:"wim"`
	Snapshots []string `json:"snapshots"`
	snapshot.ExportStats
	DurationSeconds float64               `json:"duration_seconds"`
	Requests        *remote.RequestCounts `json:"requests,omitempty"`
}

func (a *app) runExport(ctx context.Context, f *exportFlags, refs []string, out string) error {
	start := a.now()
	if f.threads < 0 {
		return usagef("--threads must not be negative")
	}
	if f.boot < 0 || f.boot > len(refs) {
		return usagef("--boot=%d: want 1 to %d", f.boot, len(refs))
	}
	target, err := outputPath(out)
	if err != nil {
		return err
	}
	status := a.newStatus()
	r, err := a.openRepoWarn(ctx, &f.repoFlags, false, a.lockWarn(status))
	if err != nil {
		return err
	}
	var snaps []*snapshot.Manifest
	var ids []string
	for _, ref := range refs {
		m, err := r.FindSnapshot(ctx, ref)
		if err != nil {
			return err
		}
		snaps = append(snaps, m)
		ids = append(ids, m.ID)
	}
	tr := &verifyTracker{verb: "exporting", start: a.now(), now: a.now}
	status.start(tr.render)
	st, err := r.Export(ctx, snaps, target, snapshot.ExportOptions{Threads: f.threads, Check: f.check, CreateTemp: createTemp,
		BootIndex: f.boot, Progress: tr.update, IntegrityProgress: integrityProgress(tr), Lock: snapshot.LockOptions{None: f.noLock, Warn: a.lockWarn(status)}})
	err = noLockHint(err)
	status.finish()
	if err != nil {
		return err
	}
	sum := exportSummary{WIM: out, Snapshots: ids, ExportStats: st, DurationSeconds: seconds(a.now().Sub(start)), Requests: a.requests()}
	if a.json {
		return writeJSON(a.stdout, sum)
	}
	_, err = fmt.Fprintf(a.stdout, "Exported %s to %s: %s, %s (%s copied, %s recompressed); WIM is %s, %.1fs\n",
		plural(st.Images, "snapshot"), out, plural(int(st.Streams), "stream"), formatBytes(st.Bytes),
		plural(int(st.CopiedChunks), "chunk"), plural(int(st.Recompressed), "stream"), formatBytes(st.Size), sum.DurationSeconds)
	return err
}

// integrityProgress shows on tr, which counted the streams until then,
// the read of the exported WIM for its integrity table (--check).
func integrityProgress(tr *verifyTracker) func(done, total int64) {
	return func(done, total int64) {
		if done == 0 {
			tr.restart("writing integrity table")
		}
		tr.update(done, total)
	}
}
