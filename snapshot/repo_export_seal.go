package snapshot

import (
	"cmp"
	"crypto/sha256"
	"io"
	"slices"

	"github.com/wimsnap/wimsnap/index"
)

// Expanding every chunk to check its stream (repo_export_check.go) costs an
// export most of its time, though a pack can vouch for its chunks far more
// cheaply: a pack whose bytes hash to its id is byte for byte the pack its
// writer stored, and its trailer, part of those bytes, says which chunk
// lies at each offset, how long it is stored and expanded, in which codec.
// A stream is sound without expanding it when every chunk of its recipe
// lies in such a pack exactly where the pack's trailer puts that chunk,
// and the chunks' raw lengths add up to the stream's size. The local
// index's locations are not taken on trust for it (bbolt keeps no
// checksums): they are compared with the trailers. A recipe resolved from
// deltas is not vouched for: a damaged patch position would put a sound
// chunk in the wrong place, which only expanding the stream shows. The
// trust left is in the writer's encoders, as a restore's or check
// --read-data's expansion of the same chunks would show.
//
// Each pack is hashed once, whole, beside the copying: a pack read from a
// remote store is hashed as its window of the pack cache is fetched (it is
// fetched for the copying anyway), a pack in a local directory by reading
// its file. A pack too large for one window (over 48 MiB in a remote
// store) or one that does not hash to its id vouches for nothing, and its
// streams are read again and expanded (repo_export_check.go).
const sealTrailers = 8 // parsed trailers kept, most recently used

// packSeals vouches for chunks by their packs, for one goroutine.
type packSeals struct {
	packs    *packCache
	z        *zcodec
	intact   map[index.ID]bool        // packs hashed: whether to their ids
	trailers map[index.ID][]packEntry // of intact packs, at most sealTrailers
	lru      []index.ID               // trailers' packs, least recently used first
	buf      []byte
}

func newPackSeals(packs *packCache, z *zcodec) *packSeals {
	return &packSeals{packs: packs, z: z, intact: map[index.ID]bool{}, trailers: map[index.ID][]packEntry{}}
}

// sound reports whether rec's chunks, at the locations locs (the local
// index's, in recipe order), are vouched for by their packs.
func (s *packSeals) sound(rec index.Recipe, locs []index.Location) bool {
	if rec.Deltas > 0 || len(locs) != len(rec.Chunks) {
		return false
	}
	left := rec.Size
	for i, l := range locs {
		if int64(l.Raw) != min(RepoChunkSize, left) || !s.vouches(rec.Chunks[i], l) {
			return false
		}
		left -= int64(l.Raw)
	}
	return left == 0
}

// vouches reports whether the pack of l is intact and its trailer lists
// chunk id at l, with l's lengths and codec.
func (s *packSeals) vouches(id index.ID, l index.Location) bool {
	entries := s.trailer(l.Pack)
	i, ok := slices.BinarySearchFunc(entries, l.Offset, func(e packEntry, off uint64) int {
		return cmp.Compare(e.offset, off)
	})
	if !ok {
		return false
	}
	e := entries[i]
	return e.id == id && e.stored == l.Stored && e.raw == l.Raw && e.codec == l.Codec
}

// trailer returns the entries of pack, by offset, when the pack is intact,
// and nil otherwise.
func (s *packSeals) trailer(pack index.ID) []packEntry {
	if entries, ok := s.trailers[pack]; ok {
		s.lru = append(slices.DeleteFunc(s.lru, func(p index.ID) bool { return p == pack }), pack)
		return entries
	}
	if !s.isIntact(pack) {
		return nil
	}
	size, err := s.packs.size(pack)
	if err != nil {
		return nil
	}
	entries, err := s.readTrailer(pack, size)
	if err != nil {
		return nil
	}
	if len(s.lru) == sealTrailers {
		delete(s.trailers, s.lru[0])
		s.lru = s.lru[1:]
	}
	s.trailers[pack] = entries
	s.lru = append(s.lru, pack)
	return entries
}

// readTrailer reads the trailer of pack, size bytes long, through the
// pack cache, which holds the pack's window that isIntact, or the
// copying, has just read: no second request for it.
func (s *packSeals) readTrailer(pack index.ID, size int64) ([]packEntry, error) {
	var used []winKey
	return packTrailer(s.z, packKey(pack), size, func(off, length int64) ([]byte, error) {
		b := make([]byte, length)
		var err error
		used, err = s.packs.readAt(b, pack, off, used[:0])
		return b, err
	})
}

// isIntact reports whether pack hashes to its id, hashing it once. Any
// failure to read it is a no: the copying meets it again and reports it.
func (s *packSeals) isIntact(pack index.ID) bool {
	ok, known := s.intact[pack]
	if known {
		return ok
	}
	if s.packs.opener == nil {
		ok = s.hashedWhenFetched(pack)
	} else {
		ok = s.hashFile(pack)
	}
	s.intact[pack] = ok
	return ok
}

// hashedWhenFetched reports whether the pack cache found pack intact when
// it fetched it whole, fetching it if it has not.
func (s *packSeals) hashedWhenFetched(pack index.ID) bool {
	if ok, known := s.packs.hashed(pack); known {
		return ok
	}
	w, err := s.packs.window(winKey{pack: pack})
	if err != nil {
		return false
	}
	s.packs.release(w)
	ok, _ := s.packs.hashed(pack)
	return ok
}

// hashFile hashes a pack of a store whose packs open as files.
func (s *packSeals) hashFile(pack index.ID) bool {
	w, err := s.packs.window(winKey{pack: pack})
	if err != nil {
		return false
	}
	defer s.packs.release(w)
	if s.buf == nil {
		s.buf = make([]byte, 1<<20)
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(h, io.NewSectionReader(w.f, 0, w.f.Size()), s.buf); err != nil {
		return false
	}
	return index.ID(h.Sum(nil)) == pack
}
