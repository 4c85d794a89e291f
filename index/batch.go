package index

import (
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
		chunks := data(tx, chunksBucket)
		for id, l := range b.chunks {
			if err := chunks.Put(id[:], l.marshal()); err != nil {
				return err
			}
		}
		streams := data(tx, streamsBucket)
		for h, r := range b.streams {
			if err := streams.Put(h[:], r.marshal()); err != nil {
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
	for p, s := range fs.sigs {
		if err := bk.Put([]byte(p), s.marshal()); err != nil {
			return err
		}
	}
	return nil
}
