package index

import (
	"bytes"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Batch collects writes for one Apply. It is not safe for concurrent use.
type Batch struct {
	chunks   map[ID]Location
	streams  map[SHA1]Recipe
	indexes  []ID
	snaps    map[ID][]byte
	dropSnap []ID
	files    *fileSet
}

type fileSet struct {
	source string
	snap   ID
	sigs   map[string]Sig
}

// NewBatch returns an empty batch.
func NewBatch() *Batch {
	return &Batch{chunks: map[ID]Location{}, streams: map[SHA1]Recipe{}, snaps: map[ID][]byte{}}
}

// Len is the number of chunks and streams in the batch, for callers that
// flush every so many.
func (b *Batch) Len() int { return len(b.chunks) + len(b.streams) }

// AddChunk records where chunk id is stored.
func (b *Batch) AddChunk(id ID, l Location) { b.chunks[id] = l }

// AddStream records the recipe of stream h.
func (b *Batch) AddStream(h SHA1, r Recipe) { b.streams[h] = r }

// AddIndex records that the index object id has been loaded.
func (b *Batch) AddIndex(id ID) { b.indexes = append(b.indexes, id) }

// AddSnapshot caches the stored manifest of snapshot id.
func (b *Batch) AddSnapshot(id ID, manifest []byte) { b.snaps[id] = manifest }

// DropSnapshot removes snapshot id from the cache.
func (b *Batch) DropSnapshot(id ID) { b.dropSnap = append(b.dropSnap, id) }

// SetFiles replaces the file signatures of source with sigs, which belong
// to snapshot snap.
func (b *Batch) SetFiles(source string, snap ID, sigs map[string]Sig) {
	b.files = &fileSet{source: source, snap: snap, sigs: sigs}
}

// Apply commits the batch in one transaction: all of it or nothing.
func (d *DB) Apply(b *Batch) error {
	return d.update(func(tx *bolt.Tx) error {
		// Keys go in sorted: bbolt splits nodes only at commit, so random
		// order costs a memmove of the whole node per Put.
		chunks := data(tx, chunksBucket)
		for _, id := range sortedKeys(b.chunks, compareID) {
			if err := chunks.Put(id[:], b.chunks[id].marshal()); err != nil {
				return err
			}
		}
		streams := data(tx, streamsBucket)
		for _, h := range sortedKeys(b.streams, compareSHA1) {
			if err := streams.Put(h[:], b.streams[h].marshal()); err != nil {
				return err
			}
		}
		indexes := data(tx, indexesBucket)
		for _, id := range b.indexes {
			if err := indexes.Put(id[:], nil); err != nil {
				return err
			}
		}
		if err := applySnaps(data(tx, snapsBucket), b); err != nil {
			return err
		}
		if b.files != nil {
			return putFiles(data(tx, filesBucket), b.files)
		}
		return nil
	})
}

func applySnaps(snaps *bolt.Bucket, b *Batch) error {
	for id, m := range b.snaps {
		if err := snaps.Put(id[:], m); err != nil {
			return err
		}
	}
	for _, id := range b.dropSnap {
		if err := snaps.Delete(id[:]); err != nil {
			return err
		}
	}
	return nil
}

func putFiles(files *bolt.Bucket, fs *fileSet) error {
	key := []byte(fs.source)
	if files.Bucket(key) != nil {
		if err := files.DeleteBucket(key); err != nil {
			return err
		}
	}
	bk, err := files.CreateBucket(key)
	if err != nil {
		return err
	}
	bk.FillPercent = 0.9
	if err := bk.Put(fileSnapKey, fs.snap[:]); err != nil {
		return err
	}
	for _, p := range slices.Sorted(maps.Keys(fs.sigs)) {
		if err := bk.Put([]byte(p), fs.sigs[p].marshal()); err != nil {
			return err
		}
	}
	return nil
}

// sortedKeys returns the keys of m in the order cmp gives.
func sortedKeys[K comparable, V any](m map[K]V, cmp func(a, b K) int) []K {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, cmp)
	return keys
}

func compareID(a, b ID) int     { return bytes.Compare(a[:], b[:]) }
func compareSHA1(a, b SHA1) int { return bytes.Compare(a[:], b[:]) }
