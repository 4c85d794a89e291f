package index

import (
	"bytes"
	"cmp"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Batch collects writes for one Apply. It is not safe for concurrent use.
// A first snapshot of a large tree puts hundreds of thousands of chunk
// locations and streams in one batch, so both are kept in slices of small
// records rather than maps (see chunkLoc and streamRec): the heap of the
// local index update of a first snapshot of /usr peaked at 122-131 MB
// with a map of recipes and 96-byte locations, and at 92 MB so.
type Batch struct {
	chunks   []chunkLoc // in the order added; Apply sorts them
	runs     []ID       // the pack of each run of chunkLoc (see AddChunk)
	streams  []streamRec
	streamAt map[SHA1]int // position in streams of the last recipe of each stream; nil until needed (lookup)
	deltas   map[SHA1]Delta
	indexes  []ID
	snaps    map[ID]snapEntry
	dropSnap []ID
	files    *fileSet
}

// snapEntry is one AddSnapshot: the stored manifest and its summary.
type snapEntry struct{ manifest, info []byte }

// chunkLoc is one AddChunk. Its pack is that of its run, the chunks added
// one after another into one pack at growing offsets, so that (run,
// offset) orders the locations of one chunk as they were added, and a
// location takes 56 bytes rather than 96 with the pack's id and a
// sequence number: 12 MB less for a first snapshot of /usr (300,000
// chunks).
type chunkLoc struct {
	id          ID
	offset      uint64
	stored, raw uint32
	run         uint32
	codec       uint8
}

// compare orders chunk locations by id, then as they were added.
func (c *chunkLoc) compare(o *chunkLoc) int {
	return cmp.Or(c.id.Compare(o.id), cmp.Compare(c.run, o.run), cmp.Compare(c.offset, o.offset))
}

// streamRec is one AddStream, the seq-th. A slice of them takes about a
// third of the memory of a map of recipes, which took 22 MB in a first
// snapshot of /usr.
type streamRec struct {
	h   SHA1
	seq uint32 // fills the padding after h
	r   Recipe
}

// NewBatch returns an empty batch.
func NewBatch() *Batch {
	return &Batch{deltas: map[SHA1]Delta{}, snaps: map[ID]snapEntry{}}
}

// Len is the number of chunk locations and streams added, for callers that
// flush every so many.
func (b *Batch) Len() int { return len(b.chunks) + len(b.streams) + len(b.deltas) }

// Grow makes room for chunks more AddChunk calls and streams more
// AddStream calls without the batch growing piecemeal: a large snapshot
// adds hundreds of thousands, and growing a slice that large by appends
// allocates several times its size.
func (b *Batch) Grow(chunks, streams int) {
	b.chunks = slices.Grow(b.chunks, chunks)
	b.streams = slices.Grow(b.streams, streams)
}

// AddChunk records where chunk id is stored; of several for one id, the
// last counts.
func (b *Batch) AddChunk(id ID, l Location) {
	run := len(b.runs) - 1
	if run < 0 || b.runs[run] != l.Pack || b.chunks[len(b.chunks)-1].offset >= l.Offset {
		b.runs = append(b.runs, l.Pack)
		run++
	}
	b.chunks = append(b.chunks, chunkLoc{id: id, offset: l.Offset, stored: l.Stored, raw: l.Raw, run: uint32(run), codec: l.Codec})
}

// location is where c lies.
func (b *Batch) location(c *chunkLoc) Location {
	return Location{Pack: b.runs[c.run], Offset: c.offset, Stored: c.stored, Raw: c.raw, Codec: c.codec}
}

// AddStream records the recipe of stream h, replacing a recipe or delta
// added for it.
func (b *Batch) AddStream(h SHA1, r Recipe) {
	delete(b.deltas, h)
	if b.streamAt != nil {
		b.streamAt[h] = len(b.streams)
	}
	b.streams = append(b.streams, streamRec{h: h, seq: uint32(len(b.streams)), r: r})
}

// recipe returns the last recipe added for stream h. The first call
// indexes the recipes added so far; a first snapshot, which adds no
// deltas, never needs it.
func (b *Batch) recipe(h SHA1) (Recipe, bool) {
	if b.streamAt == nil {
		b.streamAt = make(map[SHA1]int, len(b.streams))
		for i := range b.streams {
			b.streamAt[b.streams[i].h] = i
		}
	}
	i, ok := b.streamAt[h]
	if !ok {
		return Recipe{}, false
	}
	return b.streams[i].r, true
}

// AddDelta records stream h as a delta, unless b has a full recipe for
// it. Its base must be in the index, or added to the same batch, by the
// time the batch is applied: a reader takes a delta it cannot resolve for
// a damaged index. A delta for a stream the index already knows is not
// put (see Apply).
func (b *Batch) AddDelta(h SHA1, d Delta) {
	if _, ok := b.recipe(h); !ok {
		b.deltas[h] = d
	}
}

// StreamLen returns the number of chunks of stream h as added to b, and
// false when b has no recipe for it.
func (b *Batch) StreamLen(h SHA1) (int64, bool) {
	if r, ok := b.recipe(h); ok {
		return int64(len(r.Chunks)), true
	}
	d, ok := b.deltas[h]
	return d.ChunkCount, ok
}

// AddIndex records that the index object id has been loaded.
func (b *Batch) AddIndex(id ID) { b.indexes = append(b.indexes, id) }

// AddSnapshot caches the stored manifest of snapshot id and info, the
// caller's summary of it (see SnapshotInfos); a nil info stores none.
func (b *Batch) AddSnapshot(id ID, manifest, info []byte) {
	b.snaps[id] = snapEntry{manifest, info}
}

// DropSnapshot removes snapshot id, and its summary, from the cache.
func (b *Batch) DropSnapshot(id ID) { b.dropSnap = append(b.dropSnap, id) }

// empty reports whether the batch writes nothing.
func (b *Batch) empty() bool {
	return len(b.chunks) == 0 && len(b.streams) == 0 && len(b.deltas) == 0 && len(b.indexes) == 0 && len(b.snaps) == 0 &&
		len(b.dropSnap) == 0 && b.files == nil
}

// maxTxKeys bounds the keys one transaction of Apply puts: bbolt holds a
// transaction's dirty pages in memory until it commits, so one snapshot of
// a large tree in one transaction (500k keys) cost over 200 MB.
const maxTxKeys = 1 << 15

// appendFill is the fill factor of the pages a transaction writes when its
// keys all sort after those of the bucket: bbolt splits a node at its
// FillPercent, 0.5 by default, which suits keys that land all over a
// bucket (a full page splits into two half-full ones that fill up as keys
// arrive), but leaves half of every page empty for good when keys only
// ever go at the end, as in a first snapshot or a rebuild.
const appendFill = 0.9

// Apply commits the batch. Chunks, streams and file signatures go in
// transactions of at most maxTxKeys keys each, in key order; the markers
// that say what they complete (index objects loaded, snapshots cached, the
// snapshot a file set belongs to) go in the last one. A crash part way
// leaves keys whose index object is not marked loaded, which the next sync
// puts again, or a file set lacking some signatures, whose files the next
// snapshot reads: nothing that is wrong, only work to redo. An empty
// batch writes nothing (no transaction, so no sync of the file: every
// command syncs the index first, mostly finding nothing new), unless the
// database has no generation yet.
func (d *DB) Apply(b *Batch) error {
	if b.empty() {
		if g, err := d.Generation(); err != nil || !g.IsZero() {
			return err
		}
	}
	// Keys go in sorted: bbolt splits nodes only at commit, so random
	// order costs a memmove of the whole node per Put. Of several
	// locations of a chunk, or recipes of a stream, the last added is put
	// last. (A stable sort would do that too, but it moves each element
	// O(log² n) times: a tenth of a first snapshot's index update.)
	slices.SortFunc(b.chunks, func(x, y chunkLoc) int { return x.compare(&y) })
	err := putRuns(d, chunksBucket, b.chunks, func(_ *bolt.Tx, c chunkLoc) ([]byte, []byte) {
		return c.id[:], b.location(&c).marshal()
	})
	b.streamAt = nil // no longer positions
	slices.SortFunc(b.streams, func(x, y streamRec) int { return cmp.Or(x.h.Compare(y.h), cmp.Compare(x.seq, y.seq)) })
	if err == nil {
		err = putRuns(d, streamsBucket, b.streams, func(_ *bolt.Tx, s streamRec) ([]byte, []byte) {
			return s.h[:], s.r.marshal()
		})
	}
	if err == nil {
		// A delta for a stream already known is not put: replacing a
		// recipe by a delta could close a cycle of bases.
		err = putRuns(d, deltasBucket, sortedKeys(b.deltas, SHA1.Compare), func(tx *bolt.Tx, h SHA1) ([]byte, []byte) {
			if hasStream(tx, h) {
				return nil, nil
			}
			return h[:], b.deltas[h].marshal()
		})
	}
	if err != nil {
		return err
	}
	if b.files != nil {
		if err := d.putFiles(b.files); err != nil {
			return err
		}
	}
	return d.update(func(tx *bolt.Tx) error {
		indexes := data(tx, indexesBucket)
		for _, id := range b.indexes {
			if err := indexes.Put(id[:], nil); err != nil {
				return err
			}
		}
		if err := applySnaps(tx, b); err != nil {
			return err
		}
		if err := ensureGeneration(tx); err != nil {
			return err
		}
		if b.files != nil {
			return data(tx, filesBucket).Bucket([]byte(b.files.source)).Put(fileSnapKey, b.files.snap[:])
		}
		return nil
	})
}

// applySnaps puts and drops b's snapshots and their summaries. A snapshot
// put without a summary loses any it had, so that every summary was
// written with its manifest.
func applySnaps(tx *bolt.Tx, b *Batch) error {
	snaps, infos := data(tx, snapsBucket), data(tx, snapInfoBucket)
	for id, e := range b.snaps {
		if err := snaps.Put(id[:], e.manifest); err != nil {
			return err
		}
		var err error
		if e.info != nil {
			err = infos.Put(id[:], e.info)
		} else {
			err = infos.Delete(id[:])
		}
		if err != nil {
			return err
		}
	}
	for _, id := range b.dropSnap {
		if err := snaps.Delete(id[:]); err != nil {
			return err
		}
		if err := infos.Delete(id[:]); err != nil {
			return err
		}
	}
	return nil
}

// putRuns puts the pairs kv gives for keys, which must be in key order,
// into the data bucket name, in transactions of at most maxTxKeys keys; a
// nil k puts nothing. A transaction whose first key sorts after the
// bucket's last fills its pages to appendFill.
func putRuns[K any](d *DB, name []byte, keys []K, kv func(*bolt.Tx, K) (k, v []byte)) error {
	for run := range slices.Chunk(keys, maxTxKeys) {
		if err := d.update(func(tx *bolt.Tx) error {
			bk := data(tx, name)
			first := true
			for _, key := range run {
				d.touched(tx, randomRead) // new ids land all over the bucket
				k, v := kv(tx, key)
				if k == nil {
					continue
				}
				if first && appends(bk, k) {
					bk.FillPercent = appendFill
				}
				first = false
				if err := bk.Put(k, v); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// appends reports whether k sorts after every key of bk.
func appends(bk *bolt.Bucket, k []byte) bool {
	last, _ := bk.Cursor().Last()
	return last == nil || bytes.Compare(k, last) > 0
}

// sortedKeys returns the keys of m in the order cmp gives.
func sortedKeys[K comparable, V any](m map[K]V, cmp func(a, b K) int) []K {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, cmp)
	return keys
}
