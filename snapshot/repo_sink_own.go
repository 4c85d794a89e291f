package snapshot

// Big streams get packs of their own, so that hosts storing the same new
// file at the same time store it once.
//
// The new chunks of a stream of at least bigStream bytes (16 MiB: smaller
// ones would multiply the packs, and the requests) do not join the
// shared pack. They are cut at fixed chunk positions of the stream, every
// segmentChunks chunks, and each segment's new chunks, in stream order,
// make one pack. The pack's bytes then depend only on the stream and on
// which of its chunks the repository already had: two machines that back
// up the same new file build byte-identical packs, whose id (the SHA-256
// of the bytes) and so key are the same: when two machines upload it at
// once, both write the same bytes. Their index objects both name it, which
// readers take as they take any chunk listed twice. (A Stat before each
// upload would spare the second upload only in that race, at a request
// per pack always.)
//
// Chunks reach the packer out of order (several workers compress them),
// so a segment keeps the early arrivals until the chunks before them are
// in. The window is the workers' queue, a few dozen chunks.
const (
	bigStream     = 16 << 20
	segmentChunks = packTarget / RepoChunkSize
)

// streamGroup marks the chunks of one big stream.
type streamGroup struct {
	chunks int // chunks in the stream
}

// segKey names a segment: a stream and the segment's number in it.
type segKey struct {
	g *streamGroup
	n int
}

// segment is one segment being packed.
type segment struct {
	p       *packBuilder
	next    int // stream index of the next chunk to add
	end     int // stream index past the segment's last chunk
	pending map[int]*chunkTask
}

// addOwn takes a chunk task of a big stream (new, or skip: known already)
// and packs the segment once its chunks are all in.
func (s *repoSink) addOwn(segs map[segKey]*segment, t *chunkTask) {
	k := segKey{t.group, t.index / segmentChunks}
	seg := segs[k]
	if seg == nil {
		start := k.n * segmentChunks
		seg = &segment{p: s.newPack(), next: start, end: min(start+segmentChunks, t.group.chunks),
			pending: map[int]*chunkTask{}}
		segs[k] = seg
	}
	seg.pending[t.index] = t
	for {
		next, ok := seg.pending[seg.next]
		if !ok {
			break
		}
		delete(seg.pending, seg.next)
		s.packTask(seg.p, next)
		seg.next++
	}
	if seg.next == seg.end {
		delete(segs, k)
		s.closeOwn(seg.p)
	}
}

// flushOwn packs what segments left open hold, after a stream that ended
// early (a file that shrank while read): their chunks are claimed, so
// other streams of the run may use them, and they must be stored.
func (s *repoSink) flushOwn(segs map[segKey]*segment) {
	for k, seg := range segs {
		for i := seg.next; i < seg.end; i++ {
			if t, ok := seg.pending[i]; ok {
				s.packTask(seg.p, t)
			}
		}
		delete(segs, k)
		s.closeOwn(seg.p)
	}
}

// closeOwn uploads an own pack unless it is empty (every chunk was known).
func (s *repoSink) closeOwn(p *packBuilder) {
	if len(p.entries) == 0 {
		select {
		case s.free <- p.buf[:0]:
		default:
		}
		return
	}
	s.upload(p)
}

// packTask appends t's chunk to p unless it is a skip, counts it, and
// returns t to the pool.
func (s *repoSink) packTask(p *packBuilder, t *chunkTask) {
	if !t.skip {
		p.add(*t.dst, t.stored, len(t.in), t.codec)
		s.counts.newChunks.Add(1)
		s.counts.newRaw.Add(int64(len(t.in)))
		s.counts.newStored.Add(int64(len(t.stored)))
	}
	t.group, t.skip = nil, false
	s.pool.Put(t)
}
