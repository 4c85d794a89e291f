package snapshot

import (
	"maps"
	"slices"
)

// Big streams get packs of their own, so that hosts storing the same new
// file at the same time store it once.
//
// The new chunks of a stream of at least bigStream bytes (16 MiB: smaller
// ones would multiply the packs, and the requests) do not join the
// shared pack. They are packed in stream order into packs of their own,
// each closed once it holds a pack's size (packTarget) of bytes, unless
// at most half of that is left of the stream (raw), which then joins it
// rather than make a small pack of its own: an own pack holds at most 1.5
// times the size. The last pack closes at the stream's end. The packs'
// bytes then depend only on the stream and on which of its chunks the
// repository already had: two machines that back up the same new file
// build byte-identical packs, whose id (the SHA-256 of the bytes) and so
// key are the same: when two machines upload one at once, both write the
// same bytes. Their index objects both name it, which readers take as they
// take any chunk listed twice. (A Stat before each upload would spare the
// second upload only in that race, at a request per pack always.) A run
// that started while a prune ran salts its packs (repo_pack_fresh.go), and
// stores the file once more.
//
// Chunks reach the packer out of order (several workers compress them),
// so a stream's packer keeps the early arrivals until the chunks before
// them are in. The window is the workers' queue, a few dozen chunks.
const bigStream = 16 << 20

// streamGroup marks the chunks of one big stream.
type streamGroup struct {
	chunks int // chunks in the stream
}

// ownPacker packs the chunks of one big stream in stream order.
type ownPacker struct {
	p       *packBuilder
	next    int // stream index of the next chunk to add
	pending map[int]*chunkTask
}

// addOwn takes a chunk task of a big stream (new, or skip: known already),
// packs what is in order, and uploads a pack when it is full or the
// stream's last chunk is in.
func (s *repoSink) addOwn(owns map[*streamGroup]*ownPacker, t *chunkTask) {
	g := t.group
	o := owns[g]
	if o == nil {
		o = &ownPacker{p: s.newPack(), pending: map[int]*chunkTask{}}
		owns[g] = o
	}
	o.pending[t.index] = t
	for {
		next, ok := o.pending[o.next]
		if !ok {
			break
		}
		delete(o.pending, o.next)
		s.packTask(o.p, next)
		o.next++
		if o.p.size() >= s.r.packSize && int64(g.chunks-o.next)*RepoChunkSize > s.r.packSize/2 {
			s.upload(o.p)
			o.p = s.newPack()
		}
	}
	if o.next == g.chunks {
		delete(owns, g)
		s.upload(o.p)
	}
}

// flushOwn packs what stream packers left open hold, after a stream that
// ended early (a file that shrank while read): their chunks are claimed,
// so other streams of the run may use them, and they must be stored.
func (s *repoSink) flushOwn(owns map[*streamGroup]*ownPacker) {
	for g, o := range owns {
		for _, i := range slices.Sorted(maps.Keys(o.pending)) {
			s.packTask(o.p, o.pending[i])
		}
		delete(owns, g)
		s.upload(o.p)
	}
}

// packTask appends t's chunk to p unless it is a skip, counts it, and
// returns t to the pool.
func (s *repoSink) packTask(p *packBuilder, t *chunkTask) {
	if !t.skip {
		if p.add(*t.dst, t.stored, len(t.in), t.codec); p.err != nil {
			s.setErr(p.err)
		}
		s.counts.newChunks.Add(1)
		s.counts.newRaw.Add(int64(len(t.in)))
		s.counts.newStored.Add(int64(len(t.stored)))
	}
	t.group, t.skip = nil, false
	s.pool.Put(t)
}
