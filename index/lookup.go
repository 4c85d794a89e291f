package index

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime/debug"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Chunk returns where chunk id is stored, and false when the index does
// not know it.
func (d *DB) Chunk(id ID) (l Location, ok bool, err error) {
	err = d.view(func(tx *bolt.Tx) error {
		d.touched(tx, randomRead)
		v := data(tx, chunksBucket).Get(id[:])
		if v == nil {
			return nil
		}
		ok = true
		l, err = unmarshalLocation(v)
		return err
	})
	return l, ok, err
}

// Chunks returns where each of ids is stored, in order, from one read
// transaction; known[i] is false for a chunk the index does not know.
func (d *DB) Chunks(ids []ID) (locs []Location, known []bool, err error) {
	locs, known = make([]Location, len(ids)), make([]bool, len(ids))
	err = d.view(func(tx *bolt.Tx) error {
		chunks := data(tx, chunksBucket)
		for i, id := range ids {
			d.touched(tx, randomRead)
			v := chunks.Get(id[:])
			if v == nil {
				continue
			}
			l, err := unmarshalLocation(v)
			if err != nil {
				return err
			}
			locs[i], known[i] = l, true
		}
		return nil
	})
	return locs, known, err
}

// ChunkView is a read view of the index's chunks, as of when it was opened:
// one read transaction for many lookups. DB.Chunk opens a transaction per
// lookup, and each takes locks that every goroutine of the process shares,
// so goroutines that look up thousands of chunks side by side (a
// snapshot's compression workers) each keep a view instead. A view may be
// used from one goroutine at a time. While one is open, a write to the
// database that must grow its mapping waits for it to close: a caller does
// not write to the index until its views are closed.
type ChunkView struct {
	db     *DB
	tx     *bolt.Tx
	chunks *bolt.Bucket
}

// ChunkView opens a view of the chunks; close it when done.
func (d *DB) ChunkView() (*ChunkView, error) {
	v := &ChunkView{db: d}
	tx, err := d.beginView(func(tx *bolt.Tx) { v.chunks = data(tx, chunksBucket) })
	if err != nil {
		return nil, err
	}
	v.tx = tx
	return v, nil
}

// beginView begins a read transaction for a view and runs find in it, to
// find what the view reads; a panic of bbolt on a damaged page becomes
// ErrCorrupt. On an error the transaction is rolled back: a read
// transaction left open would hold DB.Close back for ever.
func (d *DB) beginView(find func(*bolt.Tx)) (tx *bolt.Tx, err error) {
	defer func() { // runs last, once catch has set err
		if err != nil && tx != nil {
			_ = tx.Rollback()
			tx = nil
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer catch(&err)
	if tx, err = d.bolt.Begin(false); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	find(tx)
	return tx, nil
}

// Chunk returns where chunk id is stored, as DB.Chunk does.
func (v *ChunkView) Chunk(id ID) (l Location, ok bool, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer catch(&err)
	v.db.touched(v.tx, randomRead)
	b := v.chunks.Get(id[:])
	if b == nil {
		return Location{}, false, nil
	}
	l, err = unmarshalLocation(b)
	return l, true, err
}

// Close ends the view's read transaction.
func (v *ChunkView) Close() error { return v.tx.Rollback() }

// Stream returns the recipe of stream h, and false when the index does not
// know it. A stream stored as a delta is resolved down its chain of bases.
func (d *DB) Stream(h SHA1) (r Recipe, ok bool, err error) {
	err = d.view(func(tx *bolt.Tx) error {
		r, ok, err = resolve(tx, h)
		d.touched(tx, randomRead*int64(1+r.Deltas)) // a read for each link of a delta's chain
		return err
	})
	return r, ok, err
}

// StreamLen returns the number of chunks of stream h, without resolving
// a delta's chain, and false when the index does not know it.
func (d *DB) StreamLen(h SHA1) (n int64, ok bool, err error) {
	err = d.view(func(tx *bolt.Tx) error {
		d.touched(tx, randomRead)
		if v := data(tx, streamsBucket).Get(h[:]); v != nil {
			ok = true
			n, err = recipeLen(v)
			return err
		}
		if deltas := deltasOf(tx); deltas != nil {
			if v := deltaValue(deltas.Get(h[:])); v != nil {
				if err := v.check(); err != nil {
					return err
				}
				n, ok = v.chunkCount(), true
			}
		}
		return nil
	})
	return n, ok, err
}

// recipeLen is the number of chunks of the full recipe v.
func recipeLen(v []byte) (int64, error) {
	if len(v) < 8 || (len(v)-8)%32 != 0 {
		return 0, fmt.Errorf("%w: stream recipe of %d bytes", ErrCorrupt, len(v))
	}
	return int64(len(v)-8) / 32, nil
}

// StreamSizes returns the recipe size of each stream of hs, in hs's order
// (0 for a stream the index does not know), from one read transaction.
// hs must be sorted: the keys are then visited in order, mostly by
// stepping to the next one, which for the streams of a whole image is
// several times faster than looking each up.
func (d *DB) StreamSizes(hs []SHA1) ([]int64, error) {
	sizes := make([]int64, len(hs))
	err := d.view(func(tx *bolt.Tx) error {
		found := make([]bool, len(hs))
		err := d.sizesFrom(tx, data(tx, streamsBucket), hs, sizes, found, func(v []byte) error {
			_, err := recipeLen(v)
			return err
		})
		if deltas := deltasOf(tx); err == nil && deltas != nil && slices.Contains(found, false) {
			err = d.sizesFrom(tx, deltas, hs, sizes, found, func(v []byte) error { return deltaValue(v).check() })
		}
		return err
	})
	return sizes, err
}

// sizesFrom sets sizes[i] and found[i] for each stream of hs not yet
// found that bucket holds (both kinds of value start with the size u64),
// after valid accepts the value.
func (d *DB) sizesFrom(tx *bolt.Tx, bucket *bolt.Bucket, hs []SHA1, sizes []int64, found []bool,
	valid func([]byte) error) error {
	c := bucket.Cursor()
	var k, v []byte
	for i, h := range hs {
		if found[i] {
			continue
		}
		d.touched(tx, seqRead)
		if k == nil || bytes.Compare(k, h[:]) > 0 {
			k, v = c.Seek(h[:]) // first, or hs out of order
		}
		for steps := 0; k != nil && bytes.Compare(k, h[:]) < 0; steps++ {
			if steps == maxSteps {
				k, v = c.Seek(h[:])
				break
			}
			k, v = c.Next()
		}
		if k == nil || !bytes.Equal(k, h[:]) {
			continue
		}
		if err := valid(v); err != nil {
			return err
		}
		sizes[i], found[i] = int64(binary.BigEndian.Uint64(v)), true
	}
	return nil
}

// maxSteps is how many keys StreamSizes steps over before it seeks.
const maxSteps = 8

// HasStream reports whether the index knows stream h; an unreadable
// database answers false.
func (d *DB) HasStream(h SHA1) bool {
	var ok bool
	_ = d.view(func(tx *bolt.Tx) error { // an error answers "unknown", which only costs a re-read
		d.touched(tx, randomRead)
		ok = hasStream(tx, h)
		return nil
	})
	return ok
}

// hasStream reports whether tx's index holds a recipe of stream h.
func hasStream(tx *bolt.Tx, h SHA1) bool {
	if data(tx, streamsBucket).Get(h[:]) != nil {
		return true
	}
	deltas := deltasOf(tx)
	return deltas != nil && deltas.Get(h[:]) != nil
}

// Indexes returns the ids of the index objects loaded.
func (d *DB) Indexes() (map[ID]bool, error) {
	ids := map[ID]bool{}
	err := d.view(func(tx *bolt.Tx) error {
		return data(tx, indexesBucket).ForEach(func(k, _ []byte) error {
			if len(k) != 32 {
				return fmt.Errorf("%w: index key of %d bytes", ErrCorrupt, len(k))
			}
			ids[ID(k)] = true
			return nil
		})
	})
	return ids, err
}

// Snapshots calls fn with every cached manifest; manifest is valid only
// during the call.
func (d *DB) Snapshots(fn func(id ID, manifest []byte) error) error {
	return d.view(func(tx *bolt.Tx) error {
		return data(tx, snapsBucket).ForEach(func(k, v []byte) error {
			if len(k) != 32 {
				return fmt.Errorf("%w: snapshot key of %d bytes", ErrCorrupt, len(k))
			}
			return fn(ID(k), v)
		})
	})
}

// SnapshotInfos calls fn with the id of every cached snapshot and the
// summary added with it (Batch.AddSnapshot), nil when there is none (it
// was added without one, or by a wimsnap before summaries, or the file
// is of an older version opened read-only). info is valid only during
// the call. It decodes no manifest, which is what a summary spares its
// caller.
func (d *DB) SnapshotInfos(fn func(id ID, info []byte) error) error {
	return d.view(func(tx *bolt.Tx) error {
		// Both buckets are in key order: a second cursor walks the
		// summaries beside the snapshots, rather than a lookup each.
		var ik, iv []byte
		var ic *bolt.Cursor
		if infos := data(tx, snapInfoBucket); infos != nil { // nil in an older file
			ic = infos.Cursor()
			ik, iv = ic.First()
		}
		c := data(tx, snapsBucket).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(k) != 32 {
				return fmt.Errorf("%w: snapshot key of %d bytes", ErrCorrupt, len(k))
			}
			for ik != nil && bytes.Compare(ik, k) < 0 {
				ik, iv = ic.Next()
			}
			var info []byte
			if ik != nil && bytes.Equal(ik, k) {
				info = iv
			}
			if err := fn(ID(k), info); err != nil {
				return err
			}
		}
		return nil
	})
}

// SnapshotManifest returns a copy of the cached manifest of snapshot id,
// and false when the cache has none.
func (d *DB) SnapshotManifest(id ID) ([]byte, bool, error) {
	var m []byte
	err := d.view(func(tx *bolt.Tx) error {
		if v := data(tx, snapsBucket).Get(id[:]); v != nil {
			m = bytes.Clone(v)
		}
		return nil
	})
	return m, m != nil, err
}

// ForEachChunk calls fn with every chunk's location, in id order.
func (d *DB) ForEachChunk(fn func(id ID, l Location) error) error {
	return d.view(func(tx *bolt.Tx) error {
		return data(tx, chunksBucket).ForEach(func(k, v []byte) error {
			l, err := unmarshalLocation(v)
			if err != nil || len(k) != 32 {
				return fmt.Errorf("%w: chunk entry", ErrCorrupt)
			}
			return fn(ID(k), l)
		})
	})
}

// ForEachStream calls fn with every stream the index holds, from one read
// transaction: first the full recipes in SHA-1 order (full set, r the
// recipe), then the streams stored as deltas in SHA-1 order (full false, r
// zero; Stream resolves them). A stream held both ways comes twice. A
// sequential walk: far cheaper than a Stream call per stream when most
// are wanted.
func (d *DB) ForEachStream(fn func(h SHA1, r Recipe, full bool) error) error {
	return d.view(func(tx *bolt.Tx) error {
		err := data(tx, streamsBucket).ForEach(func(k, v []byte) error {
			r, err := unmarshalRecipe(v)
			if err != nil || len(k) != 20 {
				return fmt.Errorf("%w: stream entry", ErrCorrupt)
			}
			return fn(SHA1(k), r, true)
		})
		deltas := deltasOf(tx)
		if err != nil || deltas == nil {
			return err
		}
		return deltas.ForEach(func(k, _ []byte) error {
			if len(k) != 20 {
				return fmt.Errorf("%w: delta entry", ErrCorrupt)
			}
			return fn(SHA1(k), Recipe{}, false)
		})
	})
}

// DroppedStreams calls fn with every full recipe that the last
// ResetRepository dropped, in SHA-1 order. A sync resets the index when
// the repository no longer has an index object it read (a prune replaced
// it, or it was lost): the recipes of a lost one's streams of more than
// one chunk, which the chunks alone do not give back, are then only here,
// for repair. The next reset replaces them.
func (d *DB) DroppedStreams(fn func(h SHA1, r Recipe) error) error {
	return d.view(func(tx *bolt.Tx) error {
		dropped := tx.Bucket(rootBucket).Bucket(droppedBucket)
		if dropped == nil {
			return nil
		}
		streams := dropped.Bucket(streamsBucket)
		if streams == nil {
			return nil
		}
		return streams.ForEach(func(k, v []byte) error {
			r, err := unmarshalRecipe(v)
			if err != nil || len(k) != 20 {
				return fmt.Errorf("%w: dropped stream entry", ErrCorrupt)
			}
			return fn(SHA1(k), r)
		})
	})
}

// Files is a read view of one source's file signatures. Close it when done;
// it may be used from one goroutine at a time.
type Files struct {
	db     *DB
	tx     *bolt.Tx
	bucket *bolt.Bucket
	cursor *bolt.Cursor // for lookups: Bucket.Get allocates a cursor each time
	// Snapshot is the snapshot the signatures belong to (zero when none).
	Snapshot ID
}

// Files opens the signatures stored for source; with none stored, the view
// is empty.
func (d *DB) Files(source string) (*Files, error) {
	f := &Files{db: d}
	tx, err := d.beginView(func(tx *bolt.Tx) {
		if f.bucket = data(tx, filesBucket).Bucket([]byte(source)); f.bucket != nil {
			copy(f.Snapshot[:], f.bucket.Get(fileSnapKey))
			f.cursor = f.bucket.Cursor()
		}
	})
	if err != nil {
		return nil, err
	}
	f.tx = tx
	return f, nil
}

// Lookup returns the signature stored for path.
func (f *Files) Lookup(path []byte) (s Sig, ok bool) {
	if f.bucket == nil {
		return Sig{}, false
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			s, ok = Sig{}, false // a damaged page: treat the file as changed
		}
	}()
	f.db.touched(f.tx, seqRead) // a capture looks up every file, in path order
	k, v := f.cursor.Seek(path)
	if !bytes.Equal(k, path) {
		return Sig{}, false
	}
	return unmarshalSig(v)
}

// HasStream reports whether the index knows stream h, as of when the view
// was opened; a damaged page answers false (which only costs a re-read).
func (f *Files) HasStream(h SHA1) (ok bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	f.db.touched(f.tx, randomRead)
	return hasStream(f.tx, h)
}

// Close ends the view.
func (f *Files) Close() error { return f.tx.Rollback() }

// KeepDropped adds to d's dropped recipes (see DroppedStreams) the full
// recipes old holds, dropped or not, of the streams d does not know: how
// a rebuild from scratch, which starts a new file, keeps what repair may
// need from the file it replaces. It returns how many it added. Memory
// stays bounded: the recipes go over in transactions of maxTxKeys.
func (d *DB) KeepDropped(old *DB) (int, error) {
	added := 0
	var pending [][2][]byte // key, value
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		err := d.update(func(tx *bolt.Tx) error {
			streams, err := droppedStreams(tx)
			if err != nil {
				return err
			}
			known := data(tx, streamsBucket)
			for _, kv := range pending {
				if known.Get(kv[0]) != nil {
					continue
				}
				if err := streams.Put(kv[0], kv[1]); err != nil {
					return err
				}
				added++
			}
			return nil
		})
		pending = pending[:0]
		return err
	}
	err := old.view(func(tx *bolt.Tx) error {
		var buckets []*bolt.Bucket
		if dropped := tx.Bucket(rootBucket).Bucket(droppedBucket); dropped != nil {
			buckets = append(buckets, dropped.Bucket(streamsBucket))
		}
		buckets = append(buckets, data(tx, streamsBucket))
		for _, b := range buckets {
			if b == nil {
				continue
			}
			err := b.ForEach(func(k, v []byte) error {
				if len(k) != 20 {
					return fmt.Errorf("%w: stream entry", ErrCorrupt)
				}
				pending = append(pending, [2][]byte{slices.Clone(k), slices.Clone(v)})
				if len(pending) < maxTxKeys {
					return nil
				}
				return flush()
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return added, err
}

// droppedStreams returns the dropped/streams/ bucket of tx, made if
// missing.
func droppedStreams(tx *bolt.Tx) (*bolt.Bucket, error) {
	dropped, err := tx.Bucket(rootBucket).CreateBucketIfNotExists(droppedBucket)
	if err != nil {
		return nil, err
	}
	return dropped.CreateBucketIfNotExists(streamsBucket)
}
