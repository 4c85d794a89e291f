package snapshot

import (
	"errors"
	"fmt"
	"slices"

	"github.com/wimsnap/wimsnap/index"
)

// localIndexError is what check found wrong with the local index: a
// stream or chunk that the repository's index objects hold and the local
// index lacks or holds otherwise: never a problem of the repository.
type localIndexError struct{ why string }

func (e *localIndexError) Error() string { return "local index: " + e.why }

// localSnapshots notes the snapshots whose manifests the local index has
// cached: their streams are compared with it (a snapshot committed since
// the index was synced is not in it yet).
func (c *checker) localSnapshots() error {
	if !c.compareLocal {
		return nil
	}
	c.localSnaps, c.localNeed = map[string]bool{}, map[index.SHA1]struct{}{}
	return c.db.Snapshots(func(id index.ID, _ []byte) error {
		c.localSnaps[hexID(id)] = true
		return nil
	})
}

// localIndex compares the local index with the index objects (see
// localMismatch); a disagreement goes into LocalIndexRebuilt, for Check to
// rebuild the index once the check is done.
func (c *checker) localIndex() error {
	err := c.localMismatch()
	var le *localIndexError
	if errors.As(err, &le) {
		c.res.LocalIndexRebuilt = le.Error()
		return nil
	}
	return err
}

// localMismatch compares the local index with the index objects for the
// streams noted in c.localNeed (those of the snapshots it has cached that
// the index objects resolve): each must be in it, a full recipe with the
// same chunks, each chunk inside a pack that exists with its raw length.
// A chunk stored twice (by two snapshots at once) may lie in either pack,
// so its place is not compared. It walks the index's buckets in order,
// which costs far less than a lookup per stream and chunk.
func (c *checker) localMismatch() error {
	if len(c.localNeed) == 0 {
		return nil
	}
	chunks := map[index.ID]struct{}{}
	err := c.db.ForEachStream(func(h index.SHA1, r index.Recipe, full bool) error {
		if _, ok := c.localNeed[h]; !ok {
			return nil
		}
		delete(c.localNeed, h)
		want, _ := c.streams.chunks(h)
		if full && !slices.Equal(r.Chunks, want) {
			return &localIndexError{fmt.Sprintf("stream %x: its chunks differ from the repository's index objects'", h)}
		}
		for _, id := range want {
			chunks[id] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(c.localNeed) > 0 {
		h := slices.SortedFunc(mapKeys(c.localNeed), index.SHA1.Compare)[0]
		return &localIndexError{fmt.Sprintf("stream %x is missing, though the repository's index objects have it", h)}
	}
	err = c.db.ForEachChunk(func(id index.ID, l index.Location) error {
		if _, ok := chunks[id]; !ok {
			return nil
		}
		delete(chunks, id)
		size, inPack := c.packs[l.Pack]
		if l.Raw != c.chunks[id].Raw || !inPack || int64(l.Offset)+int64(l.Stored) > size {
			return &localIndexError{fmt.Sprintf("chunk %s: the local index places it where no pack holds it", hexID(id))}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(chunks) > 0 {
		id := slices.SortedFunc(mapKeys(chunks), index.ID.Compare)[0]
		return &localIndexError{fmt.Sprintf("chunk %s is missing, though the repository's index objects have it", hexID(id))}
	}
	return nil
}

// manifestAdvice says what to do about manifest id, which cannot be read
// from the repository: repair puts it back when the local index holds a
// copy that hashes to id and decodes, else forget removes the snapshot.
func (c *checker) manifestAdvice(id index.ID) string {
	if stored := cachedManifest(c.db, id); stored != nil {
		if _, err := c.r.decodeManifest(id, stored); err == nil {
			return "its manifest cannot be read; the local index holds a copy, which 'wimsnap repair' puts back"
		}
	}
	return fmt.Sprintf("its manifest cannot be read; 'wimsnap forget %s' removes it", hexID(id)[:8])
}
