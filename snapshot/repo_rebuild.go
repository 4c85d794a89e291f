package snapshot

import (
	"context"
	"slices"

	"github.com/wimsnap/wimsnap/index"
)

// keptManifests returns the manifests the local index has cached that
// hash to their ids, read before a rebuild deletes it; a file that cannot
// be opened or read gives none.
func (r *Repo) keptManifests() map[index.ID][]byte {
	db, err := index.Open(r.cache, r.cfg.ID, index.Options{ReadOnly: true, Timeout: writeWait})
	if err != nil {
		return nil
	}
	defer closeIndex(db)
	kept := map[index.ID][]byte{}
	_ = db.Snapshots(func(id index.ID, b []byte) error {
		if objectID(b) == id {
			kept[id] = slices.Clone(b) // b lives as long as the transaction
		}
		return nil
	})
	return kept
}

// restoreKept caches again, in the rebuilt index, the manifests of kept
// that the repository still lists but the rebuild could not read (damaged
// there), so that check can point to repair and repair can put them back.
func (r *Repo) restoreKept(ctx context.Context, kept map[index.ID][]byte) error {
	inStore, err := listIDs(ctx, r.store, snapPrefix)
	if err != nil {
		return err
	}
	db, err := r.openIndex(false)
	if err != nil {
		return err
	}
	defer closeIndex(db)
	cached := map[index.ID]bool{}
	if err := db.Snapshots(func(id index.ID, _ []byte) error { cached[id] = true; return nil }); err != nil {
		return err
	}
	b := index.NewBatch()
	for id, stored := range kept {
		if _, listed := inStore[id]; listed && !cached[id] {
			b.AddSnapshot(id, stored, nil) // summarised by the next sync
		}
	}
	return db.Apply(b)
}

// keepRecipes puts in the rebuilt local index, among its dropped recipes
// (index.DB.KeepDropped), those of the index file old that it lacks. An
// old file that does not open or read, as a damaged one may not, gives
// none: the recipes are only a help for repair.
func (r *Repo) keepRecipes(old string) {
	from, err := index.Open(old, r.cfg.ID, index.Options{ReadOnly: true})
	if err != nil {
		return
	}
	defer closeIndex(from)
	db, err := r.openIndex(false)
	if err != nil {
		return
	}
	defer closeIndex(db)
	_, _ = db.KeepDropped(from)
}
