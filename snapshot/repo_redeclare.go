package snapshot

import (
	"context"
	"fmt"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
)

// A prune running beside a snapshot retires the data that only forgotten
// snapshots used (docs/repository.md, "Prune"), and a snapshot that
// deduplicated against such data names it when it commits. The prune's
// second step puts that data back when the snapshot commits before the
// prune's wait runs out; when the prune gave up waiting first, or was
// killed, nothing would, and the snapshot would not restore: its data
// would be named by retired objects alone. So a snapshot that finds, after
// storing its index object and just before its manifest, that an index
// object it read is gone (a prune's first step ran meanwhile) names again,
// in one more index object, every stream it uses and did not store, with
// the locations of their chunks that it deduplicated against. Those packs
// are still there: a prune deletes no pack while a shared lock older than
// its new index is held.

// indexReplaced reports whether a prune replaced index objects since db
// read them: one that db read is gone, or one of own (the run's own, which
// the prune may have read before the manifest named what it holds, and
// retired whole); and whether one of own is. Both are true when that
// cannot be told.
func (r *Repo) indexReplaced(ctx context.Context, db *index.DB, own []index.ID) (replaced, ownGone bool) {
	inStore, _, dropped, err := r.indexState(ctx, db)
	if err != nil {
		return true, true
	}
	for _, id := range own {
		if !inStore[id] {
			return true, true
		}
	}
	return dropped, false
}

// redeclarer is commit's check before it stores man, the manifest of
// image m, whose run added obj and deduplicated against db (still open):
// it returns what to name again, nil when no index object db read, nor
// one of obj's, is gone. When one of obj's is, what obj names is named
// again too, in the new object: under its old key a prune that read it
// would take it for known, and delete the packs it names that the
// manifest does not use.
func (r *Repo) redeclarer(ctx context.Context, db *index.DB, obj *indexObject, m *wim.Metadata, man *Manifest) func() (*indexObject, error) {
	return func() (*indexObject, error) {
		replaced, ownGone := r.indexReplaced(ctx, db, obj.ids)
		if !replaced {
			return nil, nil
		}
		h, err := man.hash()
		if err != nil {
			return nil, err
		}
		again, err := redeclare(db, obj, m, h)
		if err == nil && ownGone {
			mergeObject(again, obj)
		}
		return again, err
	}
}

// mergeObject adds to dst what src names and dst does not: src's chunk
// locations, under dst's entry of the same pack when it has one, and its
// recipes.
func mergeObject(dst, src *indexObject) {
	at := make(map[index.ID]int, len(dst.packs))
	located := map[index.ID]bool{}
	for i, p := range dst.packs {
		at[p.id] = i
		for _, e := range p.entries {
			located[e.id] = true
		}
	}
	for _, p := range src.packs {
		i, ok := at[p.id]
		if !ok {
			i = len(dst.packs)
			at[p.id] = i
			dst.packs = append(dst.packs, indexPack{id: p.id})
		}
		for _, e := range p.entries {
			if !located[e.id] {
				located[e.id] = true
				dst.packs[i].entries = append(dst.packs[i].entries, e)
			}
		}
	}
	named := make(map[index.SHA1]bool, len(dst.streams))
	for _, s := range dst.streams {
		named[s.hash] = true
	}
	for _, s := range src.streams {
		if !named[s.hash] {
			dst.streams = append(dst.streams, s)
		}
	}
}

// redeclare returns an index object that names, from db, the whole recipe
// of every stream that image m, its metadata stream meta and the delta
// recipes of obj (the run's own object) use and obj lacks, and the
// locations of their chunks, and of the chunks of obj's own streams, that
// obj lacks. It fails when db does not know one, which no stream or chunk
// reused from it can be.
func redeclare(db *index.DB, obj *indexObject, m *wim.Metadata, meta wim.Hash) (*indexObject, error) {
	named := make(map[index.SHA1]bool, len(obj.streams))
	for _, s := range obj.streams {
		named[s.hash] = true
	}
	located := map[index.ID]bool{}
	for _, p := range obj.packs {
		for _, e := range p.entries {
			located[e.id] = true
		}
	}
	again := &indexObject{}
	var need []index.ID
	add := func(h index.SHA1) error {
		if h == (index.SHA1{}) || named[h] {
			return nil
		}
		named[h] = true
		rec, ok, err := db.Stream(h)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("stream %x is neither stored by this run nor in the local index", h)
		}
		again.streams = append(again.streams, indexStream{hash: h, size: rec.Size, chunks: rec.Chunks})
		for _, c := range rec.Chunks {
			if !located[c] {
				located[c] = true
				need = append(need, c)
			}
		}
		return nil
	}
	if err := add(index.SHA1(meta)); err != nil {
		return nil, err
	}
	for _, s := range obj.streams {
		if s.delta {
			if err := add(s.base); err != nil {
				return nil, err
			}
		}
		// A stream the run stored may hold chunks it deduplicated
		// against db rather than stored: their locations too.
		for _, c := range s.chunks {
			if !located[c] {
				located[c] = true
				need = append(need, c)
			}
		}
	}
	err := m.Visit(func(e *wim.Entry, _ func() string) error {
		for _, s := range e.Streams() {
			if err := add(index.SHA1(s.Hash)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return again, addLocations(db, again, need)
}

// addLocations names in obj, which names no pack yet, the locations db
// has of chunks ids, grouped by pack in offset order.
func addLocations(db *index.DB, obj *indexObject, ids []index.ID) error {
	locs, known, err := db.Chunks(ids)
	if err != nil {
		return err
	}
	loc := make(map[index.ID]index.Location, len(ids))
	for i, id := range ids {
		if !known[i] {
			return fmt.Errorf("chunk %x is neither stored by this run nor in the local index", id)
		}
		loc[id] = locs[i]
	}
	obj.packs = groupByPack(loc, nil)
	return nil
}
