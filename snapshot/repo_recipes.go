package snapshot

import (
	"bytes"
	"slices"

	"github.com/wimsnap/wimsnap/index"
)

// recipes holds stream recipes as index objects store them: whole, or as
// a delta of another stream. A delta's chunks are worked out only when
// asked for, so memory is that of the objects read, not of what their
// deltas expand to (a few bytes of delta may name millions of chunks). A
// delta whose chunks are set (one a snapshot just wrote) needs no base.
type recipes struct {
	streams map[index.SHA1]*indexStream
	length  map[index.SHA1]int64 // chunks of each settled delta
}

func newRecipes() *recipes {
	return &recipes{streams: map[index.SHA1]*indexStream{}, length: map[index.SHA1]int64{}}
}

// add records s. Of several recipes of one stream a whole one counts
// (it needs no base), else the last.
func (r *recipes) add(s *indexStream) {
	if old := r.streams[s.hash]; old == nil || old.delta || !s.delta {
		r.streams[s.hash] = s
	}
}

// reset forgets every recipe.
func (r *recipes) reset() {
	clear(r.streams)
	clear(r.length)
}

// settle drops the deltas that do not resolve and returns them, ordered
// by hash: their base is unknown or has too few chunks, or is one of a
// cycle of deltas. It keeps no memory beyond a word per delta.
func (r *recipes) settle() []*indexStream {
	var bad []*indexStream
	var path []*indexStream
	for _, s := range r.streams {
		path = path[:0]
		base := int64(-1)
		for t := s; ; {
			if !t.delta || t.chunks != nil {
				base = int64(len(t.chunks))
				break
			}
			if n, ok := r.length[t.hash]; ok {
				base = n
				break
			}
			r.length[t.hash] = -1 // on the path: a cycle back to it finds no base
			path = append(path, t)
			if t = r.streams[t.base]; t == nil {
				break
			}
		}
		for i := len(path) - 1; i >= 0; i-- {
			base = deltaLength(path[i], base)
			r.length[path[i].hash] = base
		}
	}
	for h, n := range r.length {
		if n < 0 {
			bad = append(bad, r.streams[h])
			delete(r.streams, h)
		}
	}
	clear(r.length) // what stays resolves
	slices.SortFunc(bad, func(a, b *indexStream) int { return bytes.Compare(a.hash[:], b.hash[:]) })
	return bad
}

// deltaLength is the number of chunks of delta s on a base of n chunks,
// -1 when n is negative (no base) or leaves a chunk of s unnamed.
func deltaLength(s *indexStream, n int64) int64 {
	want := nchunks(s.size)
	if n < 0 {
		return -1
	}
	beyond := int64(0) // patches past the base's end, which must name all of them
	for _, p := range s.patches {
		if int64(p.pos) >= n {
			beyond++
		}
	}
	if want > n && beyond != want-n {
		return -1
	}
	return want
}

// chunks returns the chunk ids of stream h, false when it has no recipe
// that resolves. It may reuse buf.
func (r *recipes) chunks(h index.SHA1, buf []index.ID) ([]index.ID, bool) {
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
	out := append(buf[:0], s.chunks...)
	for i := len(chain) - 1; i >= 0; i-- {
		d := chain[i]
		n := int(nchunks(d.size))
		if n > len(out) {
			out = append(out, make([]index.ID, n-len(out))...)
		}
		out = out[:n]
		for _, p := range d.patches {
			out[p.pos] = p.id
		}
	}
	return out, true
}
