package snapshot

import (
	"context"
)

// RestoreOptions configures Repo.Restore.
type RestoreOptions struct {
	// Apply configures the writing; Paths is not used (see Include).
	Apply ApplyOptions
	// Include and Exclude filter the image by path (see Filter).
	Include, Exclude []string
	// Delete removes what the target holds and the snapshot lacks.
	Delete bool
	// DryRun reports what would change without writing.
	DryRun bool
}

// Restore writes snapshot m into target. Into an existing tree it is a
// rollback: see ApplyOptions.InPlace.
func (r *Repo) Restore(ctx context.Context, m *Manifest, target string, opts RestoreOptions) (ApplyStats, error) {
	if _, err := r.Sync(ctx, nil); err != nil {
		return ApplyStats{}, err
	}
	db, err := r.openIndex(true)
	if err != nil {
		return ApplyStats{}, err
	}
	defer closeIndex(db)
	md, err := r.loadMetadata(ctx, db, m)
	if err != nil {
		return ApplyStats{}, err
	}
	return Apply(ctx, md, r.newSource(ctx, db), target, opts.Apply)
}
