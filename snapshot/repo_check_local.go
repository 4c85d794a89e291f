package snapshot

import (
	"fmt"
	"slices"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
)

// localIndexError is what check found wrong with the local index: a
// stream that the repository's index objects resolve and the local index
// lacks or resolves otherwise. It wraps errIndexMiss, so that Check
// rebuilds the index and checks again; it is never a problem of the
// repository.
type localIndexError struct {
	stream wim.Hash
	why    string
}

func (e *localIndexError) Error() string {
	return fmt.Sprintf("local index: stream %x: %s", e.stream, e.why)
}

func (e *localIndexError) Unwrap() error { return errIndexMiss }

// localAgrees compares the local index's recipe of stream h, and where it
// places the recipe's chunks, with chunks, the stream's chunks by the
// repository's index objects. It returns a *localIndexError when they
// differ. A chunk stored twice (by two snapshots at once) may lie in
// either pack, so its place need only lie inside a pack that exists.
func (c *checker) localAgrees(h wim.Hash, chunks []index.ID) error {
	rec, ok, err := c.db.Stream(index.SHA1(h))
	switch {
	case err != nil:
		return err
	case !ok:
		return &localIndexError{h, "missing, though the repository's index objects have it"}
	case !slices.Equal(rec.Chunks, chunks):
		return &localIndexError{h, "its chunks differ from the repository's index objects'"}
	}
	locs, known, err := c.db.Chunks(chunks)
	if err != nil {
		return err
	}
	for i, id := range chunks {
		l, want := locs[i], c.chunks[id]
		size, inPack := c.packs[l.Pack]
		switch {
		case !known[i]:
			return &localIndexError{h, fmt.Sprintf("chunk %s is missing", hexID(id)[:16])}
		case l.Raw != want.Raw || !inPack || int64(l.Offset)+int64(l.Stored) > size:
			return &localIndexError{h, fmt.Sprintf("chunk %s is placed where no pack holds it", hexID(id)[:16])}
		}
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
