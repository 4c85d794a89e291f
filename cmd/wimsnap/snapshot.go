package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/snapshot"
)

const snapshotHelp = `
Capture the directory tree PATH (default: the volume of the Windows
directory $OSDTargetSystemRoot as capture takes it, else /)
into the repository as a new snapshot. The image is the one 'capture'
would write into a WIM, so 'export' gives back a WIM of it.

The snapshot records PATH absolute and cleaned (on Windows in the letter
case the file system stores: c:\data is recorded as C:\Data).

A snapshot is incremental: the newest snapshot of the same host and PATH
is its parent (or --parent), and files whose stat signature (size, mtime,
ctime, inode, mode, owner; not the device number, which an LVM or btrfs
snapshot mounted afresh changes) has not changed since the parent are not opened.
Changed files are read and cut into 32 KiB chunks; only chunks the
repository lacks are compressed and stored. Packs are written first, then
an index object, then the manifest: an interrupted snapshot leaves no
snapshot behind and loses nothing committed before.

Files that cannot be read are reported as warnings and skipped; the run
then exits with code 3.

Without --config, the exclusions are those of capture (wimsnap capture
--help lists them); --exclude adds to them, or to the --config file's.
` + configHelp + `
` + repoHelp + `

With --json, stdout receives one document:
  {"snapshot", "short_id", "repository", "time", "host", "source",
   "source_bytes", "tags", "parent", "image": {"name", ...}, "dirs",
   "files", "symlinks", "special", "bytes", "files_read", "bytes_read",
   "files_unchanged", "skipped",
   "new_chunks", "new_bytes", "new_bytes_stored", "packs",
   "duration_seconds", "lock_wait_seconds", "index": {"rebuilt", "reason",
   "index_objects_read", "manifests_read", "damaged", "missing_packs"},
   "warnings": [{"path", "error"}], "warnings_total", "requests"}
"files_read" counts the files opened; "files_unchanged" the files taken
from the parent without being opened; each counts a file once, where
"files" counts each of its names (hard links). "index" tells whether the local
index was rebuilt first, as 'rebuild-index --json' does. "source_bytes"
is there when the source path is not valid UTF-8: its exact bytes in
base64.` + requestsHelp

type snapshotFlags struct {
	repoFlags
	imageFlags
	host     string
	tags     []string
	parent   string
	noParent bool
	exclude  []string
	lockWait time.Duration
}

func (a *app) newSnapshotCommand() *cobra.Command {
	f := &snapshotFlags{}
	cmd := &cobra.Command{
		Use: "snapshot [PATH] [--repo=LOCATION] [--host=NAME] [--tag=T]...",
		Example: `  wimsnap snapshot /                                  # into the default repository
  wimsnap snapshot / --repo=/backup/repo --tag=nightly --json
  WIMSNAP_REPOSITORY=s3:https://minio.lab:9000/backups/pc1 wimsnap snapshot /home`,
		Short: "Capture a tree into the repository as a new snapshot",
		Long:  long(snapshotHelp),
		Args:  argsBetween(0, 1),
		RunE: a.body(func(ctx context.Context, cmd *cobra.Command, args []string) error {
			return a.runSnapshot(ctx, cmd, f, args)
		}),
	}
	addRepoFlags(cmd, &f.repoFlags)
	addImageInfoFlags(cmd, &f.imageFlags)
	fl := cmd.Flags()
	fl.Lookup("name").Usage = "image name recorded in the snapshot, its image's in an export (default: the base name of PATH)"
	fl.StringVar(&f.host, "host", "", "host name recorded in the snapshot (default: this machine's)")
	fl.StringArrayVar(&f.tags, "tag", nil, "tag the snapshot (repeatable)")
	fl.StringVar(&f.parent, "parent", "", "snapshot whose unchanged files are reused (default: the newest of this host and PATH)")
	fl.BoolVar(&f.noParent, "force", false, "read every file, as if there were no parent")
	fl.StringArrayVar(&f.exclude, "exclude", nil, "leave out paths matching this WimScript.ini glob, relative to PATH (repeatable)")
	fl.DurationVar(&f.lockWait, "lock-wait", 0, "wait this long for an exclusive lock (repair) to go before failing with exit 11")
	return cmd
}

// snapshotSummary is the --json document of snapshot.
type snapshotSummary struct {
	Snapshot   string        `json:"snapshot"`
	ShortID    string        `json:"short_id"`
	Repository string        `json:"repository"`
	Time       string        `json:"time"`
	Host       string        `json:"host"`
	Source     string        `json:"source"`
	SourceB    []byte        `json:"source_bytes,omitempty"` // see rawPath
	Tags       []string      `json:"tags"`
	Parent     string        `json:"parent"`
	Image      snapImageJSON `json:"image"`
	snapshot.RunSummary
	LockWaitSec   float64               `json:"lock_wait_seconds"`
	Index         snapshot.SyncStats    `json:"index"`
	Warnings      []warning             `json:"warnings"`
	WarningsTotal int64                 `json:"warnings_total"`
	Requests      *remote.RequestCounts `json:"requests,omitempty"`
}

func (a *app) runSnapshot(ctx context.Context, cmd *cobra.Command, f *snapshotFlags, args []string) error {
	hugeHeap()
	env := readOSD(a.lookup)
	source := "/"
	switch {
	case len(args) == 1:
		source = args[0]
	case env.SystemRoot != "":
		source = osdTree(env.SystemRoot, isDir)
		if !isDir(source) { // named: in a task sequence nobody typed it
			return usagef("$%s=%s: no such directory", envTargetSystemRoot, envValue(env.SystemRoot))
		}
	}
	if err := checkThreads(f.threads); err != nil {
		return err
	}
	if f.lockWait < 0 {
		return usagef("--lock-wait must not be negative")
	}
	if err := checkLabels(f.host, f.tags); err != nil {
		return err
	}
	if err := checkImageText(cmd); err != nil {
		return err
	}
	if err := checkSource(source); err != nil {
		return err
	}
	cfg, err := a.exclusions(f.config, f.exclude)
	if err != nil {
		return err
	}
	status := a.newStatus()
	warn := a.newWarnings(status)
	configWarnings(warn, f.config, cfg)
	r, err := a.openRepoWarn(ctx, &f.repoFlags, true, a.syncWarn(warn))
	if err != nil {
		return err
	}
	info := imageInfo(&f.imageFlags, func(n string) bool { return cmd.Flags().Changed(n) }, env, source)
	tr := newTracker("snapshot", a.now)
	status.start(tr.render)
	res, err := r.Snapshot(ctx, source, snapshot.TakeOptions{
		Capture: snapshot.CaptureOptions{Config: cfg, CrossMounts: f.crossMounts, NoUnixData: f.noUnixData, NTFS: f.ntfs.mode(), ShadowCopy: f.shadowCopy,
			Progress: tr.update, Warn: warn.warn, Skip: a.ownPaths(r)},
		Host: f.host, Tags: f.tags, Parent: f.parent, NoParent: f.noParent, Threads: f.threads,
		SystemRoot: systemRootName(&f.imageFlags, env),
		Image: snapshot.ImageFields{Name: info.Name, Description: info.Description, DisplayName: info.DisplayName,
			Flags: info.Flags, Creator: info.Creator, Version: info.Version},
		Warn: a.syncWarn(warn),
		Lock: snapshot.LockOptions{Wait: f.lockWait, Waiting: func(held error) {
			status.printf(a.stderr, "wimsnap: %v; waiting up to %s for it to go (--lock-wait)\n", held, f.lockWait)
		}},
	})
	status.finish()
	if err != nil {
		return &snapshotEnded{err: err, read: res.Capture, lockWait: res.LockWait}
	}
	m := res.Manifest
	list, total := warn.summary()
	loc, _, _ := a.repoLocation(&f.repoFlags)
	sum := snapshotSummary{Snapshot: m.ID, ShortID: m.ShortID(), Repository: loc, Time: m.Time.Format(time.RFC3339Nano),
		Host: m.Host, Source: m.Source, SourceB: rawPath(m.Source), Tags: nonNil(m.Tags), Parent: m.Parent, Image: newSnapImageJSON(m.Image),
		RunSummary: m.Summary, LockWaitSec: seconds(res.LockWait), Index: res.Sync, Warnings: list, WarningsTotal: total, Requests: a.requests()}
	if err := a.printSnapshot(sum); err != nil {
		return err
	}
	return partial(m.Summary.Skipped)
}

// snapshotEnded is the error of a snapshot that failed or was interrupted:
// it carries what the capture had done by then (nothing, when it failed
// before the capture began) and how long it waited for the repository
// lock, which no summary reports. The agent counts them in its run's
// totals.
type snapshotEnded struct {
	err      error
	read     snapshot.CaptureStats
	lockWait time.Duration
}

func (e *snapshotEnded) Error() string { return e.err.Error() }
func (e *snapshotEnded) Unwrap() error { return e.err }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (a *app) printSnapshot(s snapshotSummary) error {
	if a.json {
		return writeJSON(a.stdout, s)
	}
	_, err := fmt.Fprintf(a.stdout,
		"Snapshot %s of %s saved: %d dirs, %d files (%d read, %d unchanged), %s; added %s in %d chunks (%s stored), %.1fs\n",
		s.ShortID, printable(s.Source), s.Dirs, s.Files, s.FilesRead, s.Reused, formatBytes(s.Bytes),
		formatBytes(s.NewRaw), s.NewChunks, formatBytes(s.NewStored), s.DurationSec)
	return err
}
