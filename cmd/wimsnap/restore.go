package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/snapshot"
)

const restoreHelp = `
Restore snapshot SNAP (an id, a unique prefix of one, or "latest": the
newest, or the newest of those --host, --tag and --path name) into
the directory --target, which is created if missing. Into an existing tree
this is a rollback: files that already match are left alone, changed files
are replaced atomically (written beside and renamed over; of a large file,
only the 32 KiB blocks that changed are read from the repository, the others
copied from the file replaced: on Linux), and --delete
removes what the snapshot lacks, directories in the way included, but never
anything on another file system, btrfs subvolume or mount (a mount point or
a bind mount in the target, which a snapshot on one file system records as
an empty directory, and whose top directory keeps its own mode, owner,
times and xattrs; nothing is written into a directory bind-mounted there,
which may lie outside the target, while a file system mounted whole, such
as /boot, gets the files a snapshot taken with --cross-mounts holds for
it; a file mounted over one is not replaced) nor the
repository and its local index: those are warned about and left as they
are. A target inside the repository or its
local index is refused (exit 2). A file matches when its size, modification
time, mode, owner and xattrs do (a quick check, as rsync's, that does not
read it; one whose size matches but not its metadata is read and compared;
on Windows size, last write time and attributes, see docs/windows.md).
Owners are set by root alone: run by another user, a restore warns once how
many entries of the snapshot have other owners (those it writes become its
own). Nothing is written outside the target or
through a symlink: a file that shares its inode with names the snapshot
lacks is replaced, not changed. On a file system that does not tell upper
from lower case (FAT, exFAT), of two names that differ only in case the
second is skipped with a warning. An interrupted restore can simply be run
again: files named .wimsnap-XXXXXXXXXXXX-N.tmp (12 hex digits, a number)
that the snapshot lacks are taken for the temporary files of an interrupted
run and removed, outside --exclude'd paths, also without --delete (apply
and extract do the same). On Linux, a restore that changed an existing tree
flushes its file system, and those mounted below the target, to disk before
it reports success, so that a machine reset right after a rollback loses
none of it; a restore into an empty directory does not (it replaces
nothing: run it again after a crash).

--include and --exclude (repeatable) take paths or shell patterns matched
against the path from the snapshot's root ("/etc/ssh", "/home/*/.cache")
or, for a pattern without "/", against the base name (case matters, but
not on Windows; "./etc", "etc/" and "//etc" all mean "/etc", and "/" every
path; a '\' makes the next character match itself: 'back\\slash',
'\[draft\]'); an excluded path is neither restored nor deleted, nor is a
directory that holds one. With --include, --delete removes only paths that
match, in every directory of the snapshot (--include '*.gz' --delete
removes the .gz files the snapshot lacks from each of its directories); a
directory the snapshot lacks is removed only if it matches itself. An
--include pattern that matches nothing in the snapshot is warned about
("--json": a warning whose "path" is the pattern); the restore goes on and
its exit code is unchanged, as such a pattern may still select what
--delete removes.
--dry-run writes nothing and counts what the restore would do, reading the
files whose size matches but not their metadata as the restore would. It
warns, and counts skipped, as the restore does, where another user's
directory refuses a change to this one (an entry of another user in a
sticky directory such as /tmp, a directory it may not write in), where an
entry or its directory is immutable or append-only (chattr +i, +a, which
stop root too) or on a file system mounted read-only; and it warns, as the
restore does, where the restore cannot set the mode and times of such an
entry or of another user's, which neither counts skipped: the entry's
contents are the snapshot's (the exit code stays 0).
A local index found damaged is rebuilt from the repository and warned
about ("--json": a warning whose "path" is "repository").
` + repoHelp + `

With --json, stdout receives one document, also when the restore fails
once begun ("error" then says why; the exit code is the error's):
  {"repository", "snapshot", "target", "dirs", "files", "symlinks", "special", "bytes",
   "unchanged", "metadata_fixed", "deleted", "skipped", "dry_run",
   "warnings": [...], "warnings_total", "duration_seconds", "requests",
   "error"}
"files", "symlinks" and "special" count all that the snapshot put in the
target: those written ("bytes" of contents) and those "unchanged", left in
place because they already matched; "metadata_fixed" counts those of the
unchanged whose times, mode, owner or xattrs alone were set. The summary
without --json says the same in words: how many were written, how many
left in place.` + requestsHelp

type restoreFlags struct {
	repoFlags
	target     string
	del        bool
	dryRun     bool
	include    []string
	exclude    []string
	noUnixData bool
	noLock     bool
}

func (a *app) newRestoreCommand() *cobra.Command {
	f := &restoreFlags{}
	cmd := &cobra.Command{
		Use: "restore SNAP --target=DIR [--delete] [--dry-run] [--include=P] [--exclude=P]",
		Example: `  wimsnap restore latest --target=/tmp/restored
  wimsnap restore latest --target=/ --delete --dry-run   # what a rollback would change
  wimsnap restore 1a2b3c --target=/ --include=/srv/www --delete   # roll /srv/www back alone`,
		Short: "Restore a snapshot into a directory (or roll a tree back to it)",
		Long:  long(restoreHelp),
		Args:  argsBetween(1, 1),
		RunE: a.body(func(ctx context.Context, _ *cobra.Command, args []string) error {
			if f.target == "" {
				return usagef("restore: --target is required")
			}
			return a.runRestore(ctx, f, args[0])
		}),
	}
	addRepoFlags(cmd, &f.repoFlags)
	addSnapFilterFlags(cmd, &f.filter, latestOf)
	addNoLockFlag(cmd, &f.noLock)
	fl := cmd.Flags()
	fl.StringVar(&f.target, "target", "", "directory to restore into (required)")
	fl.BoolVar(&f.del, "delete", false, "delete files in the target that the snapshot lacks")
	fl.BoolVar(&f.dryRun, "dry-run", false, "report what would change, write nothing")
	fl.StringArrayVar(&f.include, "include", nil, "restore only this path or pattern (repeatable)")
	fl.StringArrayVar(&f.exclude, "exclude", nil, "leave this path or pattern alone (repeatable)")
	fl.BoolVar(&f.noUnixData, "no-unix-data", false, "do not apply UNIX owners, modes, device numbers and xattrs")
	return cmd
}

// restoreSummary is the --json document of restore.
type restoreSummary struct {
	Repository      string                `json:"repository"`
	Snapshot        string                `json:"snapshot"`
	Target          string                `json:"target"`
	Dirs            int64                 `json:"dirs"`
	Files           int64                 `json:"files"`
	Symlinks        int64                 `json:"symlinks"`
	Special         int64                 `json:"special"`
	Bytes           int64                 `json:"bytes"`
	Unchanged       int64                 `json:"unchanged"`
	MetadataFixed   int64                 `json:"metadata_fixed"`
	Deleted         int64                 `json:"deleted"`
	Skipped         int64                 `json:"skipped"`
	DryRun          bool                  `json:"dry_run"`
	Warnings        []warning             `json:"warnings"`
	WarningsTotal   int64                 `json:"warnings_total"`
	DurationSeconds float64               `json:"duration_seconds"`
	Requests        *remote.RequestCounts `json:"requests,omitempty"`
	// Error is why the restore failed, after it had begun; empty when it
	// did not.
	Error string `json:"error"`
}

func (a *app) runRestore(ctx context.Context, f *restoreFlags, ref string) error {
	hugeHeap()
	start := a.now()
	if err := (snapshot.Filter{Include: f.include, Exclude: f.exclude}).Validate(); err != nil {
		return usagef("%v", err)
	}
	status := a.newStatus()
	warn := a.newWarnings(status)
	r, err := a.openRepoWarn(ctx, &f.repoFlags, false, a.syncWarn(warn))
	if err != nil {
		return err
	}
	m, err := f.filter.find(ctx, r, ref)
	if err != nil {
		return err
	}
	tr := newTracker("restoring", a.now)
	status.start(tr.render)
	st, err := r.Restore(ctx, m, f.target, snapshot.RestoreOptions{
		Apply:   snapshot.ApplyOptions{NoUnixData: f.noUnixData, Progress: tr.update, Warn: warn.warn},
		Include: f.include, Exclude: f.exclude, Delete: f.del, DryRun: f.dryRun,
		Lock: snapshot.LockOptions{None: f.noLock, Warn: a.syncWarn(warn)},
	})
	err = noLockHint(err)
	status.finish()
	list, total := warn.summary()
	loc, _, _ := a.repoLocation(&f.repoFlags)
	sum := restoreSummary{Repository: loc, Snapshot: m.ID, Target: f.target, Dirs: st.Dirs, Files: st.Files, Symlinks: st.Symlinks,
		Special: st.Special, Bytes: st.Bytes, Unchanged: st.Unchanged, MetadataFixed: st.Fixed, Deleted: st.Deleted, Skipped: st.Skipped,
		DryRun: f.dryRun, Warnings: list, WarningsTotal: total, DurationSeconds: seconds(a.now().Sub(start)),
		Requests: a.requests()}
	if err != nil {
		// The document still tells a script what was done and which
		// files failed; the error decides the exit code.
		if a.json {
			sum.Error = shown(err)
			_ = writeJSON(a.stdout, sum)
		}
		return err
	}
	if a.json {
		if err := writeJSON(a.stdout, sum); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(a.stdout, restoreLine(m.ShortID(), f.target, f.dryRun, sum))
	}
	return partial(st.Skipped)
}

// restoreLine is the summary of restore without --json: what the target
// holds of the snapshot, then how much of it was written and how much left
// in place (a rollback), and what was deleted.
func restoreLine(id, target string, dryRun bool, sum restoreSummary) string {
	verb, written, kept, fixed, deleted := "Restored", "written", "left in place", "with metadata fixed", "deleted"
	if dryRun {
		verb, written, kept, fixed, deleted = "Would restore", "to write", "to leave in place", "with metadata to fix", "to delete"
	}
	entries := sum.Files + sum.Symlinks + sum.Special
	line := fmt.Sprintf("%s snapshot %s to %s: %d dirs, %d files, %d symlinks, %d special; %d %s (%s), %d %s",
		verb, id, printable(target), sum.Dirs, sum.Files, sum.Symlinks, sum.Special,
		entries-sum.Unchanged, written, formatBytes(sum.Bytes), sum.Unchanged, kept)
	if sum.MetadataFixed > 0 {
		line += fmt.Sprintf(" (%d %s)", sum.MetadataFixed, fixed)
	}
	return line + fmt.Sprintf(", %d %s, %.1fs", sum.Deleted, deleted, sum.DurationSeconds)
}
