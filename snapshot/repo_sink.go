package snapshot

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
)

// packTarget is the size at which a pack is closed and uploaded. Packs
// wait in spool files, not in memory (spool.go), so the size is chosen for
// the store: fewer, larger objects cost fewer requests, and 32 MiB is
// still a small object for S3.
const packTarget = 32 << 20

// maxUploads bounds the packs uploading at once.
const maxUploads = 2

// packSlack bounds what a pack holds past its target: the chunk that
// crosses it and the trailer.
const packSlack = 1 << 20

// chunkTask is one chunk on its way from AddStream through hashing and
// compression to a pack.
type chunkTask struct {
	in, out []byte
	dst     *index.ID // where the chunk's id goes in its stream's recipe
	stored  []byte    // out or in: what the pack gets
	codec   uint8
	like    []index.ID   // a committed stream's chunks, by position (AddStream)
	group   *streamGroup // the big stream it belongs to, or nil (repo_sink_own.go)
	index   int          // its position in that stream
	skip    bool         // a big stream's chunk that is not new: only accounted for
}

// sinkCounts are the repository-side counts of a snapshot.
type sinkCounts struct {
	newChunks, newRaw, newStored, packs atomic.Int64
}

// repoSink stores streams into a repository: AddStream hashes (SHA-1) and
// cuts a stream into 32 KiB chunks on the caller's goroutine; workers hash
// each chunk (SHA-256), drop the ones the repository or this run already
// has, and compress the rest; one packer goroutine appends them to packs,
// which upload in the background. AddStream and HasStream are called from
// one goroutine; finish ends the run.
type repoSink struct {
	ctx        context.Context
	r          *Repo
	salt       bool         // every pack gets a salt chunk: a prune runs (repo_pack_fresh.go)
	db         *index.DB    // committed index, read-only until finish (the workers keep views of it); nil for none
	view       *index.Files // a read view of db for HasStream (useView), guarded by mu
	sum        hash.Hash
	tasks      chan *chunkTask
	toPack     chan *chunkTask
	pool       sync.Pool
	work       sync.WaitGroup
	packerDone chan struct{}
	uploads    sync.WaitGroup
	uploadSem  chan struct{}

	nextBase wim.Hash // set by setBase for the next AddStream
	nextLike wim.Hash // set by setLike for the next AddStream

	mu      sync.Mutex
	claimed *idSet
	streams posIndex      // where in added each new stream is (addedAt)
	added   []indexStream // the new streams, in the order they came
	packs   []indexPack
	err     error

	counts sinkCounts
}

func newRepoSink(ctx context.Context, r *Repo, db *index.DB, threads int, salt bool) *repoSink {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	q := 2*threads + 4
	s := &repoSink{ctx: ctx, r: r, db: db, salt: salt, sum: sha1.New(), tasks: make(chan *chunkTask, q),
		toPack: make(chan *chunkTask, q), packerDone: make(chan struct{}), uploadSem: make(chan struct{}, maxUploads),
		claimed: newIDSet()}
	s.pool.New = func() any { return &chunkTask{in: make([]byte, 0, RepoChunkSize)} }
	for range threads {
		s.work.Add(1)
		go s.worker()
	}
	go s.packer()
	return s
}

func (s *repoSink) setErr(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

func (s *repoSink) getErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// HasStream reports whether the repository or this run holds stream h.
func (s *repoSink) HasStream(h wim.Hash) bool {
	s.mu.Lock()
	ok := s.addedAt(index.SHA1(h)) >= 0
	view := s.view
	s.mu.Unlock()
	if ok {
		return true
	}
	if view != nil {
		return view.HasStream(index.SHA1(h))
	}
	return s.db != nil && s.db.HasStream(index.SHA1(h))
}

// useView makes HasStream ask the open read view v of the index (nil:
// the database itself, a transaction per question). A walk asks once per
// unchanged file, and one long view costs a fraction of a transaction
// each; streams committed meanwhile by other processes are not seen, which
// only costs reading their files.
func (s *repoSink) useView(v *index.Files) {
	s.mu.Lock()
	s.view = v
	s.mu.Unlock()
}

// AddStream stores size bytes from r; see StreamSink.
func (s *repoSink) AddStream(r io.Reader, size int64) (wim.Hash, error) {
	if err := s.getErr(); err != nil {
		return wim.Hash{}, err
	}
	if size == 0 {
		return wim.Hash{}, nil
	}
	base, like := s.nextBase, s.nextLike
	s.nextBase, s.nextLike = wim.Hash{}, wim.Hash{}
	if like == (wim.Hash{}) {
		like = base
	}
	n := (size + RepoChunkSize - 1) / RepoChunkSize
	likeChunks := s.likeChunks(like, n)
	ids := make([]index.ID, n)
	var group *streamGroup
	if size >= bigStream {
		group = &streamGroup{chunks: int(n)}
	}
	s.sum.Reset()
	for i := range ids {
		t := s.pool.Get().(*chunkTask)
		t.group, t.index, t.like = group, i, likeChunks
		t.in = t.in[:min(RepoChunkSize, size-int64(i)*RepoChunkSize)]
		if _, err := io.ReadFull(r, t.in); err != nil {
			s.pool.Put(t)
			return wim.Hash{}, sizeError(err, size)
		}
		s.sum.Write(t.in)
		t.dst = &ids[i]
		select {
		case s.tasks <- t:
		case <-s.ctx.Done():
			return wim.Hash{}, s.ctx.Err()
		}
	}
	var h wim.Hash
	s.sum.Sum(h[:0])
	if !s.HasStream(h) {
		s.mu.Lock()
		s.streams.put(sha1Hash(index.SHA1(h)), int32(len(s.added)), func(p int32) uint64 { return sha1Hash(s.added[p].hash) })
		s.added = append(s.added, indexStream{hash: index.SHA1(h), size: size, chunks: ids, base: index.SHA1(base)})
		s.mu.Unlock()
	}
	return h, s.getErr()
}

// addedAt returns where in s.added stream h is, -1 when it is not.
func (s *repoSink) addedAt(h index.SHA1) int32 {
	return s.streams.get(sha1Hash(h), func(p int32) bool { return s.added[p].hash == h })
}

// sha1Hash is the posIndex hash of a stream: the first 8 bytes of its SHA-1.
func sha1Hash(h index.SHA1) uint64 { return binary.LittleEndian.Uint64(h[:8]) }

// sizeError turns a short read into wim.ErrSizeChanged; other errors pass.
func sizeError(err error, size int64) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w (expected %d bytes)", wim.ErrSizeChanged, size)
	}
	return err
}

// chunkIndex looks chunks up: an index.DB, or a worker's index.ChunkView.
type chunkIndex interface {
	Chunk(id index.ID) (index.Location, bool, error)
}

// worker hashes chunks and compresses the new ones. It looks chunks up in
// a view of the index of its own, if it can open one: a transaction per
// chunk would have the workers contend for the index's locks.
func (s *repoSink) worker() {
	defer s.work.Done()
	// The encoder (an XPRESS one is about 1 MiB of tables) is made for the
	// first chunk to compress: a snapshot of an unchanged tree compresses
	// none, and zeroing fresh memory is most of what making one costs.
	var enc chunkEncoder
	made := false
	var known chunkIndex // nil: no index
	if s.db != nil {
		known = s.db
		if v, err := s.db.ChunkView(); err == nil {
			defer func() { _ = v.Close() }() // a read transaction: nothing to lose
			known = v
		}
	}
	for t := range s.tasks {
		id := chunkID(t.in)
		*t.dst = id
		if t.index < len(t.like) && t.like[t.index] == id || !s.claim(id, known) {
			if t.group != nil {
				t.skip = true
				s.toPack <- t // its stream's packer counts it
				continue
			}
			s.pool.Put(t)
			continue
		}
		t.stored, t.codec = t.in, 0
		if !made {
			enc, made = newChunkEncoder(s.r.codec, s.r.cfg.Level), true
		}
		if enc != nil {
			t.out = enc.Encode(t.out[:0], t.in)
			if len(t.out) < len(t.in) {
				t.stored, t.codec = t.out, uint8(s.r.codec)
			}
		}
		s.toPack <- t
	}
}

// zeroChunkID is the id of a whole chunk of zeros.
var zeroChunkID = index.ID(sha256.Sum256(zeroBlock[:]))

// chunkID returns the id of chunk b, its SHA-256. A whole chunk of zeros,
// which sparse and preallocated files hold by the thousand, is recognised
// by comparison, many times faster than hashing it.
func chunkID(b []byte) index.ID {
	if len(b) == RepoChunkSize && isZero(b) {
		return zeroChunkID
	}
	return index.ID(sha256.Sum256(b))
}

// claim reports whether chunk id is new: not in the repository (as known
// says, when not nil) and not claimed before in this run.
func (s *repoSink) claim(id index.ID, known chunkIndex) bool {
	if known != nil {
		if _, ok, err := known.Chunk(id); ok {
			return false
		} else if err != nil {
			s.setErr(err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.claimed.add(id)
}

// packer appends new chunks to packs and starts their uploads.
func (s *repoSink) packer() {
	defer close(s.packerDone)
	var p *packBuilder // the shared pack, started by its first chunk
	owns := map[*streamGroup]*ownPacker{}
	for t := range s.toPack {
		if t.group != nil {
			s.addOwn(owns, t)
			continue
		}
		if p == nil {
			p = s.newPack()
		}
		s.packTask(p, t)
		if p.size() >= s.r.packSize {
			s.upload(p)
			p = nil
		}
	}
	s.flushOwn(owns)
	if p != nil {
		s.upload(p)
	}
}

// newPack starts an empty pack in a spool file. A failure to create the
// file is the run's error, and the pack it returns takes no chunks.
func (s *repoSink) newPack() *packBuilder {
	p := s.r.newRepoPack()
	if p.err != nil {
		s.setErr(p.err)
	}
	return p
}

// upload finishes p and stores it in the background, at most maxUploads
// at once; an empty p (every chunk of a stream was known) is dropped.
func (s *repoSink) upload(p *packBuilder) {
	if len(p.entries) == 0 {
		p.discard()
		return
	}
	if s.salt {
		addSalt(p) // a prune runs: see repo_pack_fresh.go
	}
	f, id, err := p.finish(s.r.zstd)
	if err != nil {
		s.setErr(err)
		return
	}
	s.uploadSem <- struct{}{}
	s.uploads.Add(1)
	go func() {
		defer s.uploads.Done()
		defer func() { <-s.uploadSem }()
		defer func() { _ = f.Close() }() // the spool file: nothing to lose
		s.counts.packs.Add(1)
		if err := f.put(s.ctx, s.r.store, packKey(id)); err != nil {
			s.setErr(fmt.Errorf("storing pack: %w", err))
			return
		}
		s.mu.Lock()
		s.packs = append(s.packs, indexPack{id: id, entries: p.entries})
		s.mu.Unlock()
	}()
}

// finish waits for every chunk to be packed and every pack stored, and
// returns what the run added: the packs and the new streams, as an index
// object. The sink cannot be used afterwards, and lets go of what it kept
// for the run.
func (s *repoSink) finish() (*indexObject, error) {
	close(s.tasks)
	s.work.Wait()
	close(s.toPack)
	<-s.packerDone
	s.uploads.Wait()
	if err := s.getErr(); err != nil {
		return nil, err
	}
	s.claimed = nil
	deltas := map[index.SHA1]bool{}
	for i := range s.added {
		st := &s.added[i]
		if base, ok := s.deltaBase(st, deltas); ok {
			st.makeDelta(st.base, base)
			deltas[st.hash] = st.delta
		}
	}
	o := &indexObject{packs: s.packs, streams: s.added}
	s.packs, s.streams, s.added = nil, posIndex{}, nil
	return o, nil
}

// deltaBase returns the chunks of the base st may be stored as a delta
// of. Not itself (a file read again unchanged, its stream not in the
// index, names itself), and not a stream this run stores as a delta (two
// files that swapped similar contents would make a cycle no reader
// resolves).
func (s *repoSink) deltaBase(st *indexStream, deltas map[index.SHA1]bool) ([]index.ID, bool) {
	if st.base == st.hash || deltas[st.base] {
		return nil, false
	}
	return s.baseChunks(st.base)
}

// setBase names the stream the next AddStream is likely a changed version
// of (the same file in the parent), so that its recipe can be stored as
// the differences, and its chunks are checked first (see setLike).
func (s *repoSink) setBase(h wim.Hash) { s.nextBase = h }

// setLike names a stream whose chunks the next AddStream likely shares
// (the parent's image, for a snapshot's image), without making it a base
// for the recipe: a chunk it has needs no look-up in the index.
func (s *repoSink) setLike(h wim.Hash) { s.nextLike = h }

// likeChunks returns the chunks of the committed stream h, for a coming
// stream of n chunks; nil when there is no h, h is not in the index, or
// the stream is one chunk. Its chunks are in the repository, and a changed
// stream mostly keeps its previous version's at the same positions, so a
// chunk equal to the one at its position there needs no index look-up (a
// random read all over the chunks bucket, for an image of a large tree).
// The recipe is compared by position rather than made into a set: for a
// 20 GiB file a set would take some 50 MB more than the recipe's 20 MB,
// and catch only chunks moved by a multiple of the chunk size.
func (s *repoSink) likeChunks(h wim.Hash, n int64) []index.ID {
	if h == (wim.Hash{}) || n < 2 || s.db == nil {
		return nil
	}
	rec, ok, err := s.db.Stream(index.SHA1(h))
	if !ok || err != nil {
		return nil
	}
	return rec.Chunks
}

// baseChunks returns the chunks of the base stream h, from this run or
// the committed index.
func (s *repoSink) baseChunks(h index.SHA1) ([]index.ID, bool) {
	if h == (index.SHA1{}) {
		return nil, false
	}
	if i := s.addedAt(h); i >= 0 {
		return s.added[i].chunks, true
	}
	if s.db == nil {
		return nil, false
	}
	rec, ok, err := s.db.Stream(h)
	return rec.Chunks, ok && err == nil && rec.Deltas < maxDeltaLinks
}

// maxDeltaLinks bounds the delta chains snapshots make: a stream whose base
// resolves through as many deltas is stored whole. A file changed at every
// snapshot (an hourly agent's database) would otherwise make a chain one
// link longer each time, which every read of its recipe walks, and which
// check, prune and repair, resolving every stream, walk once per link: a
// year of hourly versions took seconds. A whole recipe costs 32 bytes per
// chunk, once per this many versions.
const maxDeltaLinks = 64

// abort stops the pipeline after a failed run; nothing it stored is named
// by an index object.
func (s *repoSink) abort() {
	s.setErr(errors.New("the run was aborted"))
	_, _ = s.finish()
}
