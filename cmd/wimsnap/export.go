package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/snapshot"
)

const exportHelp = `
Write the snapshots SNAP... (ids, unique prefixes, or "latest": the
newest, or the newest of those --host, --tag and --path name) as images
1, 2, ... of a new WIM file WIMFILE, deployable with DISM, ConfigMgr or
wimlib-imagex. The WIM is in the repository's codec and its chunks are
copied as stored, not compressed again, so an export takes a fraction of a
capture's time. Each image keeps the snapshot's name, description, display
name and description, flags, creator and version, and its creation time
(an imported image's own, else the snapshot's); a name used twice gets the
snapshot's short id appended ("golden (1a2b3c4d)"), and a count after it
when that name is taken too ("golden (1a2b3c4d 2)"). WIMFILE is written beside and renamed into
place when complete.
A snapshot imported from a WIM's boot image (its header's boot index)
is marked bootable again: the first such one; --boot=N marks image N
instead, --boot=0 none. (wimlib-imagex export marks none unless given
--boot: its images come from one WIM, whose boot image it names.)
A stream is checked before it is trusted: its packs must hash to their
ids and list its chunks where the local index puts them, or else (a
delta recipe, a damaged pack) its chunks are expanded and its SHA-1
checked; a stream that fails fails the export and leaves no WIM. A local
index found damaged is rebuilt from the repository and warned about on
stderr.
` + repoHelp + `

With --json, stdout receives one document:
  {"repository", "wim", "snapshots", "images", "streams", "bytes", "chunks_copied",
   "streams_recompressed", "streams_expanded", "wim_size", "boot_index",
   "duration_seconds", "requests"}
"streams_expanded" counts the streams whose chunks were expanded to check
them; "boot_index" is the image marked bootable, 0 for none.` + requestsHelp

type exportFlags struct {
	repoFlags
	check   bool
	boot    int
	bootSet bool // --boot given: f.boot, 0 included, rules
	threads int
	noLock  bool
}

func (a *app) newExportCommand() *cobra.Command {
	f := &exportFlags{}
	cmd := &cobra.Command{
		Use: "export SNAP... WIMFILE [--repo=LOCATION] [--check] [--boot=N]",
		Example: `  wimsnap export latest base.wim                        # a deployable WIM, chunks copied
  wimsnap export 1a2b3c 4d5e6f images.wim --check       # two snapshots, two images`,
		Short: "Write snapshots as the images of a WIM file",
		Long:  long(exportHelp),
		Args:  argsBetween(2, -1),
		RunE: a.body(func(ctx context.Context, cmd *cobra.Command, args []string) error {
			f.bootSet = cmd.Flags().Changed("boot")
			if args[len(args)-1] == "" {
				return usagef("export: WIMFILE is empty")
			}
			return a.runExport(ctx, f, args[:len(args)-1], args[len(args)-1])
		}),
	}
	addRepoFlags(cmd, &f.repoFlags)
	addSnapFilterFlags(cmd, &f.filter, latestOf)
	addNoLockFlag(cmd, &f.noLock)
	fl := cmd.Flags()
	fl.BoolVar(&f.check, "check", false, "write an integrity table")
	fl.IntVar(&f.boot, "boot", 0, "mark image N (1-based) bootable, 0 none (default: the snapshot imported as a WIM's boot image)")
	fl.IntVar(&f.threads, "threads", 0, "compression threads for streams that need recompressing (default: number of CPUs)")
	return cmd
}

type exportSummary struct {
	Repository string   `json:"repository"`
	WIM        string   `json:"wim"`
	Snapshots  []string `json:"snapshots"`
	snapshot.ExportStats
	DurationSeconds float64               `json:"duration_seconds"`
	Requests        *remote.RequestCounts `json:"requests,omitempty"`
}

func (a *app) runExport(ctx context.Context, f *exportFlags, refs []string, out string) error {
	start := a.now()
	if err := checkThreads(f.threads); err != nil {
		return err
	}
	if f.boot < 0 || f.boot > len(refs) {
		return usagef("--boot=%d: want 0 (no boot image) to %d", f.boot, len(refs))
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
		m, err := f.filter.find(ctx, r, ref)
		if err != nil {
			return err
		}
		snaps = append(snaps, m)
		ids = append(ids, m.ID)
	}
	tr := &verifyTracker{verb: "exporting", start: a.now(), now: a.now}
	it := newIntegrityTracker(tr, a.now)
	status.start(it.render)
	st, err := r.Export(ctx, snaps, target, snapshot.ExportOptions{Threads: f.threads, Check: f.check, CreateTemp: createTemp, PlaceTemp: placeTemp,
		BootIndex: exportBoot(f), Progress: tr.update, IntegrityProgress: it.update, Lock: snapshot.LockOptions{None: f.noLock, Warn: a.lockWarn(status)}})
	err = noLockHint(err)
	status.finish()
	if err != nil {
		return err
	}
	loc, _, _ := a.repoLocation(&f.repoFlags)
	sum := exportSummary{Repository: loc, WIM: out, Snapshots: ids, ExportStats: st, DurationSeconds: seconds(a.now().Sub(start)), Requests: a.requests()}
	if a.json {
		return writeJSON(a.stdout, sum)
	}
	_, err = fmt.Fprintf(a.stdout, "Exported %s to %s: %s, %s (%s copied, %s recompressed); WIM is %s, %.1fs\n",
		plural(st.Images, "snapshot"), printable(out), plural(int(st.Streams), "stream"), formatBytes(st.Bytes),
		plural(int(st.CopiedChunks), "chunk"), plural(int(st.Recompressed), "stream"), formatBytes(st.Size), sum.DurationSeconds)
	if err == nil && st.BootIndex > 0 {
		_, err = fmt.Fprintf(a.stdout, "Image %d (snapshot %s) is the boot image\n", st.BootIndex, ids[st.BootIndex-1][:8])
	}
	return err
}

// exportBoot returns ExportOptions.BootIndex for the flags: --boot's
// image, none for --boot=0, and without --boot the snapshot imported as
// its WIM's boot image.
func exportBoot(f *exportFlags) int {
	if f.bootSet && f.boot == 0 {
		return -1
	}
	return f.boot
}
