package snapshot

import (
	"context"
	"errors"
	"fmt"

	"github.com/wimsnap/wimsnap/remote"
)

// Forget deletes the manifests of the snapshots given, under a shared lock
// (forget runs beside snapshots and prune). Their data stays until a prune
// finds it unused. A snapshot already gone is not an error; the others
// are deleted whatever one of them does.
func (r *Repo) Forget(ctx context.Context, snaps []*Manifest, lockOpts LockOptions) (int, error) {
	lock, err := r.LockShared(ctx, lockOpts)
	if err != nil {
		return 0, err
	}
	defer lock.release(ctx, lockOpts.Warn)
	var errs []error
	n := 0
	for _, m := range snaps {
		id, ok := parseID(m.ID)
		if !ok {
			errs = append(errs, fmt.Errorf("forget: %q is not a snapshot id", m.ID))
			continue
		}
		if err := lock.Err(); err != nil {
			return n, err
		}
		err := r.store.Delete(ctx, snapKey(id))
		switch {
		case err == nil:
			n++
		case !errors.Is(err, remote.ErrNotFound):
			errs = append(errs, fmt.Errorf("forget %s: %w", m.ShortID(), err))
		}
	}
	return n, errors.Join(errs...)
}
