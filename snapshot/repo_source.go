package snapshot

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sync"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
)

// maxRun bounds the bytes one ranged read fetches for consecutive chunks.
const maxRun = 4 << 20

// repoSource reads streams back from a repository through the local index.
// OpenStream may be called from several goroutines at once.
type repoSource struct {
	ctx    context.Context
	r      *Repo
	db     *index.DB
	decs   *decoders
	packs  *packCache
	shared *sharedChunks

	orderMu sync.Mutex
	packOrd map[index.ID]int // packs in the order SolidOrder met them

	bufs sync.Pool // *streamBufs of closed streams
}

// streamBufs are the buffers of a stream being read, kept for the next:
// a restore reads thousands of streams, and fresh buffers cost their
// zeroing and page faults each time.
type streamBufs struct{ run, cur []byte }

func (r *Repo) newSource(ctx context.Context, db *index.DB) *repoSource {
	packs := newPackCache(ctx, r.store, r.reads, packWindows*(r.packSize*3/2+packSlack))
	return &repoSource{ctx: ctx, r: r, db: db, decs: &decoders{}, packs: packs,
		shared: newSharedChunks(), packOrd: map[index.ID]int{}}
}

// close releases the source's pack windows; streams still open may finish.
func (s *repoSource) close() { s.packs.close() }

// SolidOrder ranks stream h by where its last chunk lies: by pack, in the
// order the calls meet packs, then by offset in the pack. Apply writes
// files in rank order, so the files of a pack are written one after the
// other and the pack is read once while packCache holds it, however the
// tree's order differs from the order its files were packed in. (The last
// chunk, as files that share chunks mostly share their first: a header, a
// run of zeros.) A stream the index cannot place is not ranked (its error
// comes when it is read). Each ranked stream is taken to be read once,
// which lets chunks shared between streams be kept for their next reads
// (sharedChunks), and the parts of packs where its chunks lie are
// expected to be read (packCache.expect).
//
// A store whose packs are read directly (a local directory) ranks nothing:
// its packs cost nothing to read again out of order, and Apply then writes
// each file as its walk creates it, beside the walk, instead of reopening
// them all after it. On the Debian tree that restore took 0.75-1.44 s
// where the ranked one took 0.91-1.73 s, in the same rounds.
func (s *repoSource) SolidOrder(h wim.Hash) (rank int, ok bool) {
	if s.packs.opener != nil {
		return 0, false
	}
	rec, ok, err := s.db.Stream(index.SHA1(h))
	if err != nil || !ok || len(rec.Chunks) == 0 {
		return 0, false
	}
	s.shared.expect(rec.Chunks)
	l, ok := s.lastChunk(rec.Chunks)
	if !ok {
		return 0, false
	}
	return s.rankAt(l), true
}

// rankAt is the rank (SolidOrder) of a stream whose last chunk lies at l.
func (s *repoSource) rankAt(l index.Location) int {
	s.orderMu.Lock()
	defer s.orderMu.Unlock()
	n, seen := s.packOrd[l.Pack]
	if !seen {
		n = len(s.packOrd)
		s.packOrd[l.Pack] = n
	}
	return n<<32 | int(min(l.Offset, 1<<32-1))
}

// packRank is SolidOrder without what it tells the caches (an export
// copies stored chunks and fetches packs whole, to hash them): the rank
// of stream h by where its last chunk lies, for a store whose packs are
// fetched; false for a stream the index cannot place, and for a local
// store, whose packs cost nothing to read again out of order.
func (s *repoSource) packRank(h wim.Hash) (int, bool) {
	if s.packs.opener != nil {
		return 0, false
	}
	rec, ok, err := s.db.Stream(index.SHA1(h))
	if err != nil || !ok || len(rec.Chunks) == 0 {
		return 0, false
	}
	l, ok, err := s.db.Chunk(rec.Chunks[len(rec.Chunks)-1])
	if err != nil || !ok {
		return 0, false
	}
	return s.rankAt(l), true
}

// lastChunk returns where the last of chunks lies. It looks all of them
// up, in one transaction, and tells the pack cache which part of each pack
// they lie in: a stream's chunks need not be in order in a pack (two
// workers compress them), nor all in one (chunks it shares with older
// files).
func (s *repoSource) lastChunk(chunks []index.ID) (index.Location, bool) {
	locs, known, err := s.db.Chunks(chunks)
	if err != nil || !known[len(chunks)-1] {
		return index.Location{}, false
	}
	type part struct {
		pack   index.ID
		lo, hi int64
	}
	var parts []part // few: most streams lie in one pack
	for i, l := range locs {
		if !known[i] {
			continue
		}
		lo, hi := int64(l.Offset), int64(l.Offset)+int64(l.Stored)
		j := slices.IndexFunc(parts, func(p part) bool { return p.pack == l.Pack })
		if j < 0 {
			parts = append(parts, part{l.Pack, lo, hi})
			continue
		}
		parts[j].lo, parts[j].hi = min(parts[j].lo, lo), max(parts[j].hi, hi)
	}
	for _, p := range parts {
		s.packs.expect(p.pack, p.lo, p.hi)
	}
	return locs[len(chunks)-1], true
}

// OpenStream returns a reader of stream h that checks its SHA-1 at the end;
// the zero hash reads as no data, as StreamSource has it.
func (s *repoSource) OpenStream(h wim.Hash) (io.ReadCloser, error) {
	if h.IsZero() {
		return io.NopCloser(io.LimitReader(nil, 0)), nil // the repository holds no such stream
	}
	rec, ok, err := s.db.Stream(index.SHA1(h))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: stream %x is not in the repository's index", errIndexMiss, h)
	}
	return s.newStream(h, rec, rec.Chunks), nil
}

// newStream returns a reader of stream h, of recipe rec, that fetches
// chunks (all of rec's, or those openReplacing does not take from the old
// file), with the buffers of a closed stream when there is one.
func (s *repoSource) newStream(h wim.Hash, rec index.Recipe, chunks []index.ID) *repoStream {
	rs := &repoStream{chunkCursor: chunkCursor{src: s, hash: h, chunks: chunks}, rec: rec, sum: sha1.New()}
	if b, ok := s.bufs.Get().(*streamBufs); ok {
		rs.run, rs.cur = b.run[:0], b.cur[:0]
	}
	return rs
}

// readStream reads a whole stream (for metadata resources).
func (s *repoSource) readStream(h wim.Hash, limit int64) ([]byte, error) {
	if h.IsZero() {
		return nil, fmt.Errorf("%w: stream %x names no data", ErrRepoFormat, h)
	}
	rc, err := s.OpenStream(h)
	if err != nil {
		return nil, err
	}
	defer closeRead(rc)
	rs := rc.(*repoStream)
	if rs.rec.Size > limit {
		return nil, fmt.Errorf("%w: stream %x: %d bytes, more than %d", ErrRepoFormat, h, rs.rec.Size, limit)
	}
	if s.packs.opener == nil {
		// The stream's parts of its packs, not whole windows, are
		// fetched when they are under half of them: an image shares its
		// pack with the files of its snapshot.
		s.lastChunk(rs.rec.Chunks)
	}
	b := make([]byte, rs.rec.Size)
	if _, err := io.ReadFull(rc, b); err != nil {
		return nil, err
	}
	// The stream checks its SHA-1 when it reaches its end.
	if _, err := rc.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		if err == nil {
			err = fmt.Errorf("%w: stream %x is longer than its size", ErrRepoFormat, h)
		}
		return nil, err
	}
	return b, nil
}

// repoStream reads the chunks of one stream and checks its SHA-1.
type repoStream struct {
	chunkCursor
	rec  index.Recipe
	sum  hash.Hash
	cur  []byte // expanded chunk being read
	pos  int
	done int64
	err  error

	// reuse, when set (openReplacing), marks the chunks of rec taken from
	// old rather than from the repository: the cursor's chunks are the
	// others. ci is the next chunk of rec.
	reuse []bool
	old   io.ReaderAt
	ci    int
	// announced: openReplacing announced the cursor's chunks, and Close
	// counts off those it did not read.
	announced bool
}

func (rs *repoStream) Read(p []byte) (int, error) {
	for rs.pos == len(rs.cur) {
		if rs.err != nil {
			return 0, rs.err
		}
		rs.err = rs.advance()
	}
	n := copy(p, rs.cur[rs.pos:])
	rs.pos += n
	return n, nil
}

// advance expands the next chunk into cur, or ends the stream.
func (rs *repoStream) advance() error {
	if rs.reuse != nil {
		if rs.ci == len(rs.reuse) {
			return rs.end()
		}
		rs.ci++
		if rs.reuse[rs.ci-1] {
			return rs.readOld(rs.ci - 1)
		}
	}
	stored, id, l, err := rs.nextStored()
	if errors.Is(err, io.EOF) {
		return rs.end()
	}
	if err != nil {
		return err
	}
	cur, err := rs.src.decs.expandChunk(rs.cur, stored, int(l.Raw), l.Codec)
	if err != nil {
		rs.src.packs.drop(rs.used)
		rs.src.shared.forget(id)
		return fmt.Errorf("stream %x chunk %d (pack %s): %w", rs.hash, rs.next-len(rs.locs)+rs.ri-1,
			hex.EncodeToString(l.Pack[:4]), err)
	}
	wantRaw := min(RepoChunkSize, rs.rec.Size-rs.done)
	if int64(len(cur)) != wantRaw {
		return fmt.Errorf("%w: stream %x: chunk of %d bytes, want %d", ErrRepoFormat, rs.hash, len(cur), wantRaw)
	}
	rs.sum.Write(cur)
	rs.done += int64(len(cur))
	rs.cur, rs.pos = cur, 0
	return nil
}

// end checks the stream's SHA-1 once every chunk is read.
func (rs *repoStream) end() error {
	var h wim.Hash
	rs.sum.Sum(h[:0])
	if rs.done != rs.rec.Size || h != rs.hash {
		// Read afresh if the stream is read again: its pack windows, and
		// the copies of its chunks kept for other files, which may hold
		// the damage (it may have been on the wire).
		rs.src.packs.drop(rs.used)
		for _, id := range rs.chunks {
			rs.src.shared.forget(id)
		}
		if rs.reuse != nil { // the old file's blocks, or the fetched ones
			return fmt.Errorf("%w: stream %x", errReusedChanged, rs.hash)
		}
		return fmt.Errorf("%w: stream %x: contents do not match its SHA-1", ErrRepoFormat, rs.hash)
	}
	return io.EOF
}

// Close ends the stream, keeping its buffers for the next; a Read after
// it fails.
func (rs *repoStream) Close() error {
	if rs.announced && !errors.Is(rs.err, io.EOF) {
		rs.src.shared.cancel(rs.chunks[rs.next:]) // reads that will not come, else kept for them
		rs.announced = false
	}
	if !errors.Is(rs.err, errStreamClosed) {
		rs.src.bufs.Put(&streamBufs{run: rs.run[:0], cur: rs.cur[:0]})
		rs.run, rs.cur, rs.pos, rs.err = nil, nil, 0, errStreamClosed
	}
	return nil
}

var errStreamClosed = errors.New("read of a closed stream")

// chunkCursor yields the stored bytes of a list of chunks in order,
// fetching runs of chunks that lie back to back in one pack with one
// ranged read, and taking chunks sharedChunks keeps from it.
type chunkCursor struct {
	src    *repoSource
	hash   wim.Hash // the stream, for messages
	chunks []index.ID
	known  []index.Location // chunks' locations, when the caller has them; else looked up
	next   int              // index of the next chunk to fetch
	run    []byte           // stored bytes of the fetched run
	locs   []index.Location
	ri     int      // next chunk of the run
	used   []winKey // the pack windows read through
}

// nextStored returns the next chunk's stored bytes (valid until the next
// call), id and location, or io.EOF after the last.
func (c *chunkCursor) nextStored() ([]byte, index.ID, index.Location, error) {
	if c.ri == len(c.locs) {
		if c.next == len(c.chunks) {
			return nil, index.ID{}, index.Location{}, io.EOF
		}
		if err := c.fetch(); err != nil {
			return nil, index.ID{}, index.Location{}, err
		}
	}
	id := c.chunks[c.next-len(c.locs)+c.ri]
	l := c.locs[c.ri]
	c.ri++
	off := l.Offset - c.locs[0].Offset
	return c.run[off : off+uint64(l.Stored)], id, l, nil
}

// fetch reads the next run of chunks: one kept by sharedChunks, or those
// that follow one another in a pack up to the next kept one.
func (c *chunkCursor) fetch() error {
	c.locs = c.locs[:0]
	c.ri = 0
	start := c.next
	var size uint64
	for c.next < len(c.chunks) {
		id := c.chunks[c.next]
		l, err := c.location(id)
		if err != nil {
			return err
		}
		if len(c.locs) > 0 {
			first, last := c.locs[0], c.locs[len(c.locs)-1]
			if l.Pack != first.Pack || l.Offset != last.Offset+uint64(last.Stored) || size+uint64(l.Stored) > maxRun ||
				c.src.shared.has(id) {
				break
			}
		} else if kept, ok := c.src.shared.get(c.run[:0], id); ok {
			c.run, c.locs = kept, append(c.locs, l)
			c.next++
			return nil
		}
		c.locs = append(c.locs, l)
		size += uint64(l.Stored)
		c.next++
	}
	if err := c.read(size); err != nil {
		c.next, c.locs = start, c.locs[:0] // not read: Close counts their announced uses off
		return err
	}
	for i, l := range c.locs {
		off := l.Offset - c.locs[0].Offset
		c.src.shared.read(c.chunks[start+i], c.run[off:off+uint64(l.Stored)])
	}
	return nil
}

// location returns the location of chunk id, the next to fetch.
func (c *chunkCursor) location(id index.ID) (index.Location, error) {
	if c.known != nil {
		return c.known[c.next], nil
	}
	l, ok, err := c.src.db.Chunk(id)
	if err == nil && !ok {
		err = fmt.Errorf("%w: stream %x: chunk %s is not in the repository's index", errIndexMiss, c.hash, hex.EncodeToString(id[:]))
	}
	return l, err
}

// read reads the run of c.locs, size bytes, into c.run, through the pack
// window cache: a run of small files beside each other costs one read of
// their pack.
func (c *chunkCursor) read(size uint64) error {
	first := c.locs[0]
	if cap(c.run) < int(size) {
		c.run = make([]byte, size)
	}
	c.run = c.run[:size]
	var err error
	if c.used, err = c.src.packs.readAt(c.run, first.Pack, int64(first.Offset), c.used); err != nil {
		return fmt.Errorf("stream %x: %w", c.hash, err)
	}
	return nil
}

// reuseMin is the smallest stream whose chunks openReplacing looks for in the
// file it replaces: below it, reading that file costs about what fetching
// the stream does.
const reuseMin = 1 << 20

// reuseSamples is how many chunks, spread over the stream, openReplacing
// compares first: when none matches, the old file is taken for rewritten
// whole and is not read further.
const reuseSamples = 16

// errReusedChanged is the error of a stream read through openReplacing whose
// SHA-1 does not match: the old file changed after its chunks were
// compared (a live system). The caller reads the stream again from the
// repository alone.
var errReusedChanged = errors.New("the file being replaced changed while its unchanged blocks were copied")

// openReplacing returns a reader of stream h, as OpenStream does, for a
// rollback's replacement of a file: the walk reads it when it comes to the
// file, out of the order SolidOrder ranks new files in. It takes each chunk
// the old file (old, oldSize bytes; nil for none) already holds at the same
// offset from it instead of fetching and expanding it from the repository,
// and tells the caches what it fetches: one more use of each of those
// chunks (sharedChunks) and each one's part of its pack, so that a window
// fetches those parts alone. Unannounced, the rewrite of an 8 MiB file
// fetched the whole window of its pack (27-67 MB from S3); announced whole,
// a one-block change to a large file fetched all of it.
//
// A rollback of a large file in which a few blocks changed fetches only
// those (a 300 MB file with one byte changed, from MinIO on this machine:
// 2 GET requests instead of 10, 1.3-2.2 s instead of 2.6-3.9 s). From a
// local directory it is no slower, though it reads the old file twice and
// hashes it (the same file: 1.1-1.6 s against 1.2-2.6 s random, 1.3-1.7 s
// against 1.6-2.3 s text). The chunks are compared by id (SHA-256) before
// the read; the stream's SHA-1, checked at its end as always, covers the
// chunks taken from old too, and a mismatch there is errReusedChanged. A
// stream under reuseMin, or of which old holds none of a sample of chunks,
// is fetched whole. buf is scratch space of at least RepoChunkSize bytes.
func (s *repoSource) openReplacing(h wim.Hash, old io.ReaderAt, oldSize int64, buf []byte) (io.ReadCloser, error) {
	if h.IsZero() {
		return s.OpenStream(h)
	}
	rec, ok, err := s.db.Stream(index.SHA1(h))
	if err != nil || !ok {
		return s.OpenStream(h) // which reports it
	}
	var reuse []bool
	if old != nil && rec.Size >= reuseMin && int64(len(rec.Chunks)) == (rec.Size+RepoChunkSize-1)/RepoChunkSize {
		reuse = matchOld(rec, old, oldSize, buf)
	}
	needed := rec.Chunks
	if reuse != nil {
		needed = make([]index.ID, 0, len(rec.Chunks))
		for i, id := range rec.Chunks {
			if !reuse[i] {
				needed = append(needed, id)
			}
		}
	}
	rs := s.newStream(h, rec, needed)
	rs.reuse, rs.old = reuse, old
	if s.packs.opener == nil && len(needed) > 0 {
		rs.known = s.announceChunks(needed)
		rs.announced = true
	}
	return rs, nil
}

// announceChunks tells the caches that chunks are to be read once more, as
// SolidOrder does for a stream's, but with each chunk's part of its pack
// on its own (SolidOrder's lastChunk announces a stream's chunks in a pack
// as one part, from the first to the last). It returns their locations,
// for the reading stream's cursor, or nil when the index lacks one (the
// cursor then reports it).
func (s *repoSource) announceChunks(chunks []index.ID) []index.Location {
	s.shared.expect(chunks)
	locs, known, err := s.db.Chunks(chunks)
	if err != nil {
		return nil
	}
	for i, l := range locs {
		if known[i] {
			s.packs.expect(l.Pack, int64(l.Offset), int64(l.Offset)+int64(l.Stored))
		}
	}
	if slices.Contains(known, false) {
		return nil
	}
	return locs
}

// matchOld reports, for each chunk of rec, whether old (oldSize bytes)
// holds it at its offset in the stream; nil when it holds none, which a
// sample of reuseSamples chunks tells before the rest is read.
func matchOld(rec index.Recipe, old io.ReaderAt, oldSize int64, buf []byte) []bool {
	n := len(rec.Chunks)
	holds := func(i int) bool {
		off := int64(i) * RepoChunkSize
		size := min(RepoChunkSize, rec.Size-off)
		if off+size > oldSize {
			return false
		}
		b := buf[:size]
		got, _ := old.ReadAt(b, off)
		return int64(got) == size && chunkID(b) == rec.Chunks[i]
	}
	step, hit := max(n/reuseSamples, 1), false
	for i := 0; i < n && !hit; i += step {
		hit = holds(i)
	}
	if !hit {
		return nil
	}
	reuse := make([]bool, n)
	for i := range n {
		reuse[i] = holds(i)
	}
	return reuse
}

// readOld reads chunk i of the stream from the old file into cur.
func (rs *repoStream) readOld(i int) error {
	off := int64(i) * RepoChunkSize
	size := int(min(RepoChunkSize, rs.rec.Size-off))
	cur := slices.Grow(rs.cur[:0], size)[:size]
	if got, _ := rs.old.ReadAt(cur, off); got < size {
		return fmt.Errorf("%w: stream %x: chunk %d is no longer there", errReusedChanged, rs.hash, i)
	}
	rs.sum.Write(cur)
	rs.done += int64(size)
	rs.cur, rs.pos = cur, 0
	return nil
}
