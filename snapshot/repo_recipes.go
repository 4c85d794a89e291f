package snapshot

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"

	"github.com/wimsnap/wimsnap/index"
)

// recipes holds stream recipes as index objects store them: whole, or as
// a delta of another stream. A delta's chunks are worked out only when
// asked for, so memory is that of the objects read, not of what their
// deltas expand to (a few bytes of delta may name millions of chunks). A
// delta whose chunks are set (one a snapshot just wrote) needs no base.
type recipes struct {
	streams map[index.SHA1]*indexStream // per stream: after settle, a recipe that resolves
	others  []*indexStream              // further recipes of the streams, until settle
	buf     []index.ID                  // what chunks returns
}

func newRecipes() *recipes {
	return &recipes{streams: map[index.SHA1]*indexStream{}}
}

// add records s, one of possibly several recipes of its stream.
func (r *recipes) add(s *indexStream) {
	old := r.streams[s.hash]
	switch {
	case old == nil:
		r.streams[s.hash] = s
	case needsBase(old) && !needsBase(s):
		r.streams[s.hash], s = s, old
		fallthrough
	default:
		r.others = append(r.others, s)
	}
}

// reset forgets every recipe.
func (r *recipes) reset() {
	clear(r.streams)
	r.others = nil
}

// needsBase reports whether s is a delta whose chunks are not known.
func needsBase(s *indexStream) bool { return s.delta && s.chunks == nil }

// recipeLength is the number of chunks of a recipe that resolves.
func recipeLength(s *indexStream) int64 {
	if s.chunks != nil {
		return int64(len(s.chunks))
	}
	return nchunks(s.size)
}

// settle keeps, for each stream, one recipe that resolves: a whole one if
// there is one, else a delta whose base resolves to enough chunks (bases
// first, from the whole recipes outward, so cycles never resolve), and
// drops the streams that have none. It returns the delta recipes that do
// not resolve, ordered by stream then base, also those of a stream that
// another recipe resolves.
func (r *recipes) settle() []*indexStream {
	chosen := make(map[index.SHA1]*indexStream, len(r.streams))
	deps := map[index.SHA1][]*indexStream{} // deltas by base
	var queue []*indexStream                // resolved, their dependents to try
	consider := func(s *indexStream) {
		switch {
		case needsBase(s):
			deps[s.base] = append(deps[s.base], s)
		case chosen[s.hash] == nil:
			chosen[s.hash] = s
			queue = append(queue, s)
		}
	}
	for _, s := range r.streams {
		consider(s)
	}
	for _, s := range r.others {
		consider(s)
	}
	for k := 0; k < len(queue); k++ {
		base := queue[k]
		for _, d := range deps[base.hash] {
			if chosen[d.hash] == nil && d.fits(recipeLength(base)) {
				chosen[d.hash] = d
				queue = append(queue, d)
			}
		}
	}
	var bad []*indexStream
	for _, ds := range deps {
		for _, d := range ds {
			if b := chosen[d.base]; b == nil || !d.fits(recipeLength(b)) {
				bad = append(bad, d)
			}
		}
	}
	r.streams, r.others = chosen, nil
	slices.SortFunc(bad, func(a, b *indexStream) int {
		return cmp.Or(bytes.Compare(a.hash[:], b.hash[:]), bytes.Compare(a.base[:], b.base[:]))
	})
	return bad
}

// chunks returns the chunk ids of stream h, false when it has no recipe
// that resolves. The slice holds until the next call.
func (r *recipes) chunks(h index.SHA1) ([]index.ID, bool) {
	s := r.streams[h]
	var chain []*indexStream
	for ; s != nil && s.delta && s.chunks == nil; s = r.streams[s.base] {
		if len(chain) > len(r.streams) {
			return nil, false // a cycle, which settle drops
		}
		chain = append(chain, s)
	}
	if s == nil {
		return nil, false
	}
	out := append(r.buf[:0], s.chunks...)
	for i := len(chain) - 1; i >= 0; i-- {
		out = chain[i].applyTo(out)
	}
	r.buf = out
	return out, true
}

// sizeMismatch returns why the chunks of a stream's recipe, whose raw
// sizes raw gives (false for a chunk it does not know), cannot make the
// size bytes the recipe says: every chunk but the last is RepoChunkSize
// bytes, and they add up to size. "" when they can, or when a chunk is
// unknown (the caller reports that).
func sizeMismatch(chunks []index.ID, size int64, raw func(index.ID) (int64, bool)) string {
	var sum int64
	for i, id := range chunks {
		n, ok := raw(id)
		if !ok {
			return ""
		}
		if i < len(chunks)-1 && n != RepoChunkSize {
			return fmt.Sprintf("chunk %d of its recipe holds %d bytes, not %d", i, n, RepoChunkSize)
		}
		sum += n
	}
	if sum != size {
		return fmt.Sprintf("its chunks hold %d bytes, its recipe says %d", sum, size)
	}
	return ""
}
