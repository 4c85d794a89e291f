package snapshot

import (
	"context"

	"github.com/wimsnap/wimsnap/index"
)

// RepoStats describes a repository's size.
type RepoStats struct {
	ID           string `json:"id"`
	Codec        string `json:"codec"`
	Snapshots    int    `json:"snapshots"`
	Packs        int    `json:"packs"`
	PackBytes    int64  `json:"pack_bytes"`
	IndexObjects int    `json:"index_objects"`
	Chunks       int64  `json:"chunks"`
	ChunkBytes   int64  `json:"chunk_bytes"`
	StoredBytes  int64  `json:"stored_bytes"`
	// SnapshotBytes sums the file bytes of every snapshot: what restoring
	// them all would write, against StoredBytes.
	SnapshotBytes int64 `json:"snapshot_bytes"`
}

// Stats counts the repository's snapshots, packs and chunks.
func (r *Repo) Stats(ctx context.Context) (RepoStats, error) {
	var res RepoStats
	err := r.retryCorrupt(ctx, func() (err error) {
		res, err = r.stats(ctx)
		return err
	})
	return res, err
}

func (r *Repo) stats(ctx context.Context) (RepoStats, error) {
	st := RepoStats{ID: r.cfg.ID, Codec: r.cfg.Codec}
	list, err := r.Snapshots(ctx)
	if err != nil {
		return st, err
	}
	st.Snapshots = len(list)
	for _, m := range list {
		st.SnapshotBytes += m.Summary.Bytes
	}
	packs, err := listIDs(ctx, r.store, packPrefix)
	if err != nil {
		return st, err
	}
	st.Packs = len(packs)
	for _, size := range packs {
		st.PackBytes += size
	}
	idx, err := listIDs(ctx, r.store, indexPrefix)
	if err != nil {
		return st, err
	}
	st.IndexObjects = len(idx)
	db, err := r.openIndex(true)
	if err != nil {
		return st, err
	}
	defer closeIndex(db)
	err = db.ForEachChunk(func(_ index.ID, l index.Location) error {
		st.Chunks++
		st.ChunkBytes += int64(l.Raw)
		st.StoredBytes += int64(l.Stored)
		return nil
	})
	return st, err
}
