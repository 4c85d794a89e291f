package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/snapshot"
)

const unlockHelp = `
Remove the repository's stale locks: those not refreshed for 30 minutes
by the store's clock, left by processes that were killed or lost their
machine, and at once those left by processes of this machine that are
gone. Commands pass over stale locks anyway, so this tidies up; a lock
that is still fresh is kept and named with its host, process id and age.
The lock objects locks/exclusive and locks/prune, which exclusive and prune
locks hold besides their own, are removed the same way. To read the
store's clock, unlock writes and deletes a small probe object.

--remove-all removes every lock, fresh ones too: use it only when the
processes holding them are known to be gone (a machine switched off, a
process killed), to go on before their locks become stale. A holder that
is in fact still running goes on as if it held its lock until its next
refresh (within 5 minutes) finds it removed and stops it.

The exit code is 0 whether or not locks were kept.
` + repoHelp + `

With --json, stdout receives one document: {"repository", "removed":
[{"key", "kind", "host", "pid", "user", "since", "modified", "stale"}],
"kept": [...]}. "kind" is "shared", "exclusive" or "prune"; "host" is
empty for a lock object that cannot be read; "since" and "modified" are the
store's times of the lock's first and last writes.`

func (a *app) newUnlockCommand() *cobra.Command {
	var rf repoFlags
	var all bool
	cmd := &cobra.Command{
		Use:   "unlock [--repo=LOCATION] [--remove-all]",
		Short: "Remove stale locks from the repository (with --remove-all every lock)",
		Long:  long(unlockHelp),
		Args:  argsBetween(0, 0),
		RunE: a.body(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			return a.runUnlock(ctx, &rf, all)
		}),
	}
	addRepoFlags(cmd, &rf)
	cmd.Flags().BoolVar(&all, "remove-all", false, "remove every lock, fresh ones too (only when their processes are gone)")
	return cmd
}

// lockJSON is a lock in unlock's --json document.
type lockJSON struct {
	Key      string    `json:"key"`
	Kind     string    `json:"kind"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	User     string    `json:"user"`
	Since    time.Time `json:"since"`
	Modified time.Time `json:"modified"`
	Stale    bool      `json:"stale"`
}

func locksJSON(ls []snapshot.LockInfo) []lockJSON {
	out := make([]lockJSON, len(ls))
	for i, l := range ls {
		out[i] = lockJSON{Key: l.Key, Kind: l.Kind, Host: l.Host, PID: l.PID, User: l.User,
			Since: l.Since.UTC(), Modified: l.ModTime.UTC(), Stale: l.Stale}
	}
	return out
}

func (a *app) runUnlock(ctx context.Context, rf *repoFlags, all bool) error {
	r, err := a.openRepo(ctx, rf, false)
	if err != nil {
		return err
	}
	removed, err := r.RemoveLocks(ctx, all, snapshot.DefaultLockStaleAfter)
	if err != nil {
		return err
	}
	kept, err := r.Locks(ctx)
	if err != nil {
		return err
	}
	loc, _, _ := a.repoLocation(rf)
	if a.json {
		return writeJSON(a.stdout, map[string]any{"repository": loc, "removed": locksJSON(removed), "kept": locksJSON(kept)})
	}
	for _, l := range removed {
		state := "fresh"
		if l.Stale {
			state = "stale"
		}
		fmt.Fprintf(a.stdout, "removed %s %s of %s since %s\n", state, lockName(l), lockHolder(l), lockTime(l.Since))
	}
	for _, l := range kept {
		fmt.Fprintf(a.stdout, "kept %s: held by %s since %s, refreshed %s; use --remove-all only if that process is gone\n",
			lockName(l), lockHolder(l), lockTime(l.Since), lockTime(l.ModTime))
	}
	fmt.Fprintf(a.stdout, "%s: removed %s, kept %d\n", loc, plural(len(removed), "lock"), len(kept))
	return nil
}

// lockName names a lock for people: its kind and short id, or the key of
// a mutex.
func lockName(l snapshot.LockInfo) string {
	id := strings.TrimPrefix(l.Key, "locks/")
	if len(id) != 64 {
		return fmt.Sprintf("mutex %s (%s lock)", l.Key, l.Kind)
	}
	return fmt.Sprintf("%s lock %s", l.Kind, id[:8])
}

// lockHolder names the process that holds a lock.
func lockHolder(l snapshot.LockInfo) string {
	if l.Host == "" {
		return "an unknown process (the lock object cannot be read)"
	}
	s := fmt.Sprintf("host %s pid %d", l.Host, l.PID)
	if l.User != "" {
		s += " user " + l.User
	}
	return s
}

func lockTime(t time.Time) string { return t.UTC().Format(time.DateTime + " UTC") }
