package snapshot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
)

// RestoreOptions configures Repo.Restore.
type RestoreOptions struct {
	// Apply configures the writing; its Paths, InPlace, Delete, Deletable
	// and DryRun are set by Restore.
	Apply ApplyOptions
	// Include and Exclude select paths (see Filter). An Include pattern
	// that matches no path of the snapshot is warned about (ErrNoMatch),
	// not an error.
	Include, Exclude []string
	// Delete removes what the target holds and the snapshot lacks (within
	// what Include and Exclude select).
	Delete bool
	// DryRun counts what would change without writing.
	DryRun bool
	// Lock configures the shared lock the restore holds.
	Lock LockOptions
}

// Restore writes snapshot m into target, created if missing. Files whose
// data turns out damaged or missing are left empty, warned about, and make
// the error wrap ErrRepoFormat once the rest is restored. Into an
// existing tree it is a rollback (ApplyOptions.InPlace): what already
// matches is kept, changed files are replaced atomically, and with Delete
// what the snapshot lacks is removed. A store that cannot be read (after
// the store's own retries) stops the restore with an error wrapping the
// store's (remote.ErrUnavailable, say); the files not yet written are
// removed, as when ctx is cancelled. A restore interrupted half way can
// be run again to completion.
func (r *Repo) Restore(ctx context.Context, m *Manifest, target string, opts RestoreOptions) (ApplyStats, error) {
	var res ApplyStats
	warn := opts.Apply.Warn
	given := map[string]bool{} // by a first run that a rebuilt index runs again (Warn calls are serialised)
	err := r.withShared(ctx, opts.Lock, func(*Lock) error {
		return r.retryRebuilt(ctx, func(rebuiltFor error) (err error) {
			if warn != nil {
				opts.Apply.Warn = onceAcross(given, rebuiltFor == nil, warn)
			}
			res, err = r.restore(ctx, m, target, opts, rebuiltFor == nil)
			return err
		})
	})
	return res, err
}

// onceAcross returns warn for a run that may be run again: the first run
// (first set) records in given each warning it passes on, and the run
// again passes on only those not given, so that a warning about the same
// path is not given twice.
func onceAcross(given map[string]bool, first bool, warn func(string, error)) func(string, error) {
	return func(path string, err error) {
		k := path + "\x00" + err.Error()
		if !first && given[k] {
			return
		}
		given[k] = true
		warn(path, err)
	}
}

// restore is Restore with the local index as it is. With suspectIndex set,
// a stream the index lacks stops the restore (without a warning) with an
// error wrapping errIndexMiss, for Restore to rebuild the index and run it
// again: bbolt keeps no checksums, and a damaged page reads as keys gone.
func (r *Repo) restore(ctx context.Context, m *Manifest, target string, opts RestoreOptions, suspectIndex bool) (ApplyStats, error) {
	f := Filter{Include: opts.Include, Exclude: opts.Exclude}
	if err := checkTarget(target, r.LocalPaths()); err != nil {
		return ApplyStats{}, err
	}
	if err := f.Validate(); err != nil {
		return ApplyStats{}, err
	}
	f = f.Normalized()
	db, err := r.syncedIndex(ctx)
	if err != nil {
		return ApplyStats{}, err
	}
	defer closeIndex(db)
	db.ReadAhead() // a restore looks up every stream it writes
	md, err := r.loadMetadata(ctx, db, m)
	if err != nil {
		return ApplyStats{}, err
	}
	if md.Dropped > 0 && opts.Apply.Warn != nil {
		opts.Apply.Warn("/", DroppedError(md.Dropped))
	}
	if opts.Apply.Warn != nil {
		for _, p := range (Filter{Include: opts.Include}).Unmatched(md.Root) {
			opts.Apply.Warn(p, ErrNoMatch)
		}
	}
	ao := opts.Apply
	if opts.Delete {
		md.Root, ao.Passages = f.SelectDeleting(md.Root, func(p string) bool {
			fi, err := os.Lstat(filepath.Join(target, filepath.FromSlash(p)))
			return err == nil && fi.IsDir()
		})
	} else {
		md.Root, ao.Passages = f.Select(md.Root)
	}
	ao.Paths, ao.InPlace, ao.Delete, ao.DryRun = nil, true, opts.Delete, opts.DryRun
	ao.Deletable = f.Deletable
	ao.Keep = append(append(ao.Keep, r.LocalPaths()...), filepath.Dir(r.cache)) // a rollback of / or of a home
	// A store that cannot be read after the retries ends the restore: the
	// other files would each wait out the same retries (hours, for a
	// system volume) to fail alike. What was not yet written is removed,
	// as on an interrupt, and running the restore again finishes it.
	applyCtx, stop := context.WithCancel(ctx)
	defer stop()
	var damaged, unreached int
	var remoteErr error // the first error of a store that could not be reached
	var missed error    // the first stream a suspect index lacked
	ao.Warn = func(path string, err error) {
		switch { // Apply serialises Warn calls
		case suspectIndex && errors.Is(err, errIndexMiss):
			missed = cmp.Or(missed, err)
			stop()
			return
		case errors.Is(err, remote.ErrUnavailable), errors.Is(err, remote.ErrDenied):
			unreached++
			remoteErr = cmp.Or(remoteErr, err)
			stop()
		case errors.Is(err, ErrRepoFormat), errors.Is(err, wim.ErrNotFound), errors.Is(err, remote.ErrNotFound),
			errors.Is(err, remote.ErrCorrupt):
			damaged++
		}
		if opts.Apply.Warn != nil {
			opts.Apply.Warn(path, err)
		}
	}
	src := r.newSource(applyCtx, db)
	defer src.close()
	st, err := Apply(applyCtx, md, src, target, ao)
	st.Skipped += int64(md.Dropped) // warned about above
	switch {
	case ctx.Err() != nil: // interrupted
	case missed != nil:
		err = fmt.Errorf("restore stopped: the local index lacks a stream of the snapshot: %w", missed)
	case unreached > 0:
		// Not partial: running it again once the store answers restores
		// the rest. The error's class gives the exit code.
		err = fmt.Errorf("restore stopped (run it again to finish it): the repository could not be read: %w", remoteErr)
	case err != nil:
	case damaged > 0:
		err = fmt.Errorf("%w: %d files could not be restored: their data in the repository is damaged or missing (see 'wimsnap check --read-data')",
			ErrRepoFormat, damaged)
	}
	return st, err
}
