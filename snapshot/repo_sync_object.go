package snapshot

import (
	"fmt"

	"github.com/wimsnap/wimsnap/index"
)

// maxSyncBatchIDs bounds the chunk ids (locations and recipe entries) a
// sync holds before it writes them to the local index. A delta recipe of
// a few bytes names a base that may have millions of chunks, so an
// object's recipes, resolved, can be many times its size: they go to the
// index a batch at a time, never all at once.
const maxSyncBatchIDs = 1 << 17

// pendingObject is an index object read but not yet in the local index.
type pendingObject struct {
	id  index.ID
	obj *indexObject
}

// applyObjects puts index objects into the local index. A delta recipe
// goes in once its base is known, which may take an object applied later,
// so objects with streams left out are tried again while any stream goes
// in; then streams whose base no object has are reported, and their
// object is not marked as read.
func (r *Repo) applyObjects(db *index.DB, pending []pendingObject, st *SyncStats, warn func(error)) error {
	for final := false; len(pending) > 0; {
		var next []pendingObject
		progress := false
		for _, p := range pending {
			added, err := p.obj.addResolved(db)
			if err != nil {
				return err
			}
			progress = progress || added > 0
			if len(p.obj.streams) > 0 && !final {
				next = append(next, p)
				continue
			}
			if err := finishObject(db, p, warn); err != nil {
				return err
			}
			st.Damaged += len(p.obj.streams)
			st.Indexes++
		}
		final = !progress // no stream went in: finish what is left as it is
		pending = next
	}
	return nil
}

// finishObject marks p as read when all its streams are in the local
// index, and otherwise reports those left out: an object with streams
// left out is read again by the next sync, as their base may come (a
// prune puts back bases it had retired).
func finishObject(db *index.DB, p pendingObject, warn func(error)) error {
	if len(p.obj.streams) == 0 {
		b := index.NewBatch()
		b.AddIndex(p.id)
		return db.Apply(b)
	}
	for _, s := range p.obj.streams {
		if warn != nil {
			warn(fmt.Errorf("%w: %s: stream %x: its base stream %x is in no index object",
				ErrRepoFormat, indexKey(p.id), s.hash, s.base))
		}
	}
	return nil
}

// addResolved writes o's chunk locations, and the recipes of the streams
// that resolve, to db in batches of at most maxSyncBatchIDs chunk ids,
// and leaves in o only the streams whose base is in neither o nor db. A
// delta is written as a delta, once its base is in the batch or db (a
// base in o goes first, see order), so memory holds one batch and the
// index grows by the delta's patches, not by its whole recipe. It returns
// the number of streams that resolved.
func (o *indexObject) addResolved(db *index.DB) (int, error) {
	b, ids := index.NewBatch(), 0
	flush := func(limit int) error {
		if ids < limit {
			return nil
		}
		full := b
		b, ids = index.NewBatch(), 0
		return db.Apply(full)
	}
	for _, p := range o.packs {
		for _, e := range p.entries {
			b.AddChunk(e.id, p.location(e))
			ids++
		}
		if err := flush(maxSyncBatchIDs); err != nil {
			return 0, err
		}
	}
	o.packs = nil
	var left []indexStream
	added := 0
	for _, s := range o.order() {
		switch {
		case !s.delta:
			b.AddStream(s.hash, index.Recipe{Size: s.size, Chunks: s.chunks})
			ids += len(s.chunks)
		case baseFits(b, db, s):
			b.AddDelta(s.hash, s.indexDelta())
			ids += 1 + len(s.patches)
		default:
			left = append(left, *s)
			continue
		}
		s.chunks, s.patches = nil, nil // the batch holds them until it is written
		added++
		if err := flush(maxSyncBatchIDs); err != nil {
			return added, err
		}
	}
	o.streams = left
	return added, flush(1)
}

// order returns pointers to o's streams, each delta after the stream of
// o that is its base. Streams on a cycle of bases come in some order, so
// that one of them finds no base.
func (o *indexObject) order() []*indexStream {
	own := make(map[index.SHA1]int, len(o.streams))
	for i := range o.streams {
		own[o.streams[i].hash] = i
	}
	const (
		unseen = iota
		onPath
		placed
	)
	state := make([]uint8, len(o.streams))
	out := make([]*indexStream, 0, len(o.streams))
	var path []int
	for i := range o.streams {
		path = path[:0]
		for j := i; state[j] == unseen; {
			state[j] = onPath
			path = append(path, j)
			base, ok := own[o.streams[j].base]
			if !o.streams[j].delta || !ok {
				break
			}
			j = base
		}
		for k := len(path) - 1; k >= 0; k-- {
			state[path[k]] = placed
			out = append(out, &o.streams[path[k]])
		}
	}
	return out
}
