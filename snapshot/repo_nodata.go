package snapshot

import (
	"context"
	"errors"
	"fmt"

	"github.com/wimsnap/wimsnap/remote"
)

// noData returns an error wrapping ErrConfigMissing when store holds
// packs, index objects or snapshots, nil when it holds none (locks and
// other keys are no repository's data), or the error of listing them.
func noData(ctx context.Context, store remote.Store) error {
	for _, prefix := range []string{snapPrefix, indexPrefix, packPrefix} {
		err := store.List(ctx, prefix, func(remote.Info) error { return errFound })
		if errors.Is(err, errFound) {
			return fmt.Errorf("%w: %s holds its %s", ErrConfigMissing, store.Location(), prefix)
		}
		if err != nil {
			return fmt.Errorf("looking for the repository's data: %w", err)
		}
	}
	return nil
}
