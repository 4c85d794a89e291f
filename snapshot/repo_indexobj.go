package snapshot

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"slices"

	"github.com/wimsnap/wimsnap/index"
)

// An index object, expanded, is indexMagic, then a uvarint pack count and
// per pack its id (32 bytes), a uvarint chunk count and per chunk its id
// (32 bytes), offset, stored and raw lengths (uvarints) and codec (a byte);
// then a uvarint stream count and per stream its SHA-1 (20 bytes), size
// (uvarint) and a kind byte: 0, then the ids of its ceil(size/32 KiB)
// chunks (32 bytes each); or 1 (a changed version of another stream),
// then the base stream's SHA-1, a uvarint patch count and per patch the
// uvarint gap to the previous patched position (plus one) and the chunk
// id there; the other positions take the base's chunk.
const indexMagic = "wimsnap index 1\n"

// indexPack lists the chunks of one pack.
type indexPack struct {
	id      index.ID
	entries []packEntry
}

// location is where entry e of p lies.
func (p *indexPack) location(e packEntry) index.Location {
	return index.Location{Pack: p.id, Offset: e.offset, Stored: e.stored, Raw: e.raw, Codec: e.codec}
}

// entryAt is the pack entry of chunk c at l (location's inverse).
func entryAt(c index.ID, l index.Location) packEntry {
	return packEntry{id: c, offset: l.Offset, stored: l.Stored, raw: l.Raw, codec: l.Codec}
}

// groupByPack lists the chunks of loc that pick selects (nil: all) by
// pack, packs in id order and entries in offset order.
func groupByPack(loc map[index.ID]index.Location, pick func(index.ID) bool) []indexPack {
	byPack := map[index.ID][]packEntry{}
	for c, l := range loc {
		if pick == nil || pick(c) {
			byPack[l.Pack] = append(byPack[l.Pack], entryAt(c, l))
		}
	}
	packs := make([]indexPack, 0, len(byPack))
	for id, es := range byPack {
		slices.SortFunc(es, func(a, b packEntry) int { return cmp.Compare(a.offset, b.offset) })
		packs = append(packs, indexPack{id: id, entries: es})
	}
	slices.SortFunc(packs, func(a, b indexPack) int { return bytes.Compare(a.id[:], b.id[:]) })
	return packs
}

// indexStream is a stream's recipe: its chunks, or (as stored) a base
// stream and the positions where its chunks differ.
type indexStream struct {
	hash   index.SHA1
	size   int64
	chunks []index.ID // nil until resolved, for a parsed delta

	delta   bool
	base    index.SHA1
	patches []patch
}

// patch is a chunk of a delta recipe that differs from its base's.
type patch struct {
	pos uint64
	id  index.ID
}

// nchunks is the number of chunks of a stream of size bytes.
func nchunks(size int64) int64 { return (size + RepoChunkSize - 1) / RepoChunkSize }

// makeDelta stores s as a delta of the base recipe when that saves at
// least half its chunk ids.
func (s *indexStream) makeDelta(base index.SHA1, baseChunks []index.ID) {
	var ps []patch
	for i, id := range s.chunks {
		if i >= len(baseChunks) || baseChunks[i] != id {
			ps = append(ps, patch{pos: uint64(i), id: id})
			if len(ps) > len(s.chunks)/2 {
				return
			}
		}
	}
	s.delta, s.base, s.patches = true, base, ps
}

// resolve fills in the chunks of a delta recipe from its base, which
// lookup finds; it reports false when the base is unknown or too short.
func (s *indexStream) resolve(lookup func(index.SHA1) ([]index.ID, bool)) bool {
	if s.chunks != nil || !s.delta {
		return true
	}
	base, ok := lookup(s.base)
	if !ok || !s.fits(int64(len(base))) {
		return false
	}
	s.chunks = s.applyTo(slices.Clone(base))
	return true
}

// applyTo turns chunks, a base's that s fits, into the delta s's: cut or
// grown to s's length, with its patches put in. It works in place when
// chunks has the capacity.
func (s *indexStream) applyTo(chunks []index.ID) []index.ID {
	n := int(nchunks(s.size))
	if n > len(chunks) {
		chunks = append(chunks, make([]index.ID, n-len(chunks))...)
	}
	chunks = chunks[:n]
	for _, p := range s.patches {
		chunks[p.pos] = p.id
	}
	return chunks
}

// fits reports whether the delta s resolves on a base of n chunks: every
// position at or past the base's end is patched (patches are in ascending
// order, each below s's chunk count, as parse and makeDelta make them).
func (s *indexStream) fits(n int64) bool {
	past := int64(0)
	for _, p := range s.patches {
		if int64(p.pos) >= n {
			past++
		}
	}
	return nchunks(s.size) <= n+past
}

// indexDelta is the delta s as the local index stores it.
func (s *indexStream) indexDelta() index.Delta {
	d := index.Delta{Size: s.size, ChunkCount: nchunks(s.size), Base: s.base, Patches: make([]index.Patch, len(s.patches))}
	for i, p := range s.patches {
		d.Patches[i] = index.Patch{Pos: int64(p.pos), Chunk: p.id}
	}
	return d
}

// indexObject is the content of one index object.
type indexObject struct {
	ids     []index.ID // set once stored: one per piece (see split)
	packs   []indexPack
	streams []indexStream
}

// maxObjectEntries bounds the chunk entries plus recipe chunk ids of one
// stored index object (about 12 MiB expanded), far below what readers
// accept (maxIndexObject stored, maxZstdObject expanded).
const maxObjectEntries = 1 << 18

// split cuts o into pieces of at most about most chunk entries plus recipe
// chunk ids each, keeping every pack and stream whole and in order. A
// delta recipe may land in another piece than its base, which readers
// resolve across objects. An empty o gives no pieces. The pieces share
// o's packs and streams, which are not copied: a first snapshot of /usr
// has 120,000 new streams.
func (o *indexObject) split(most int) []*indexObject {
	var out []*indexObject
	p0, s0, n := 0, 0, 0 // where the current piece starts, its size
	cut := func(p, s, add int) {
		if n += add; n >= most {
			out = append(out, &indexObject{packs: o.packs[p0:p], streams: o.streams[s0:s]})
			p0, s0, n = p, s, 0
		}
	}
	for i, pk := range o.packs {
		cut(i+1, 0, len(pk.entries))
	}
	for i := range o.streams {
		s := &o.streams[i]
		cut(len(o.packs), i+1, len(s.chunks)+len(s.patches))
	}
	if p0 < len(o.packs) || s0 < len(o.streams) {
		out = append(out, &indexObject{packs: o.packs[p0:], streams: o.streams[s0:]})
	}
	return out
}

// putIndexObjects stores o under prefix, split into pieces of at most
// about r.objectEntries entries (see split), and
// returns their ids, those stored before a failure included.
func (r *Repo) putIndexObjects(ctx context.Context, prefix string, o *indexObject) ([]index.ID, error) {
	var ids []index.ID
	for _, piece := range o.split(r.objectEntries) {
		id, err := r.putIndexObject(ctx, prefix, piece)
		if err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// putIndexObject stores o, zstd-compressed, under prefix (index/ or
// retired/) and returns its id. The object is compressed into a spool
// file as it is encoded, so it is never whole in memory.
func (r *Repo) putIndexObject(ctx context.Context, prefix string, o *indexObject) (index.ID, error) {
	f, err := newSpool(r.spool)
	if err != nil {
		return index.ID{}, err
	}
	defer func() { _ = f.Close() }() // a spool file: nothing to lose
	var size countWriter
	_ = o.encodeTo(&size) // a countWriter does not fail
	sum := sha256.New()
	zw := r.zstd.writer(io.MultiWriter(f, sum), int64(size))
	err = o.encodeTo(zw)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return index.ID{}, fmt.Errorf("writing an index object to the spool: %w", err)
	}
	var id index.ID
	sum.Sum(id[:0])
	key := objectKey(prefix, id)
	if err := f.put(ctx, r.store, key); err != nil {
		return id, fmt.Errorf("storing %s: %w", key, err)
	}
	return id, nil
}

// countWriter counts the bytes written to it.
type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// encodeTo writes the expanded index object to w, a record at a time: a
// large object is never whole in memory.
func (o *indexObject) encodeTo(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	b := []byte(indexMagic)
	b = binary.AppendUvarint(b, uint64(len(o.packs)))
	for _, p := range o.packs {
		b = append(b, p.id[:]...)
		b = binary.AppendUvarint(b, uint64(len(p.entries)))
		for _, e := range p.entries {
			b = append(b, e.id[:]...)
			b = binary.AppendUvarint(b, e.offset)
			b = binary.AppendUvarint(b, uint64(e.stored))
			b = binary.AppendUvarint(b, uint64(e.raw))
			b = append(b, e.codec)
			b = flushRecords(bw, b)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(o.streams)))
	for _, s := range o.streams {
		b = appendStream(b, &s)
		b = flushRecords(bw, b)
	}
	_, _ = bw.Write(b) // the error sticks in bw
	return bw.Flush()
}

// flushRecords writes b to bw once it holds 32 KiB, and returns it
// emptied; bw keeps the first error.
func flushRecords(bw *bufio.Writer, b []byte) []byte {
	if len(b) < 32<<10 {
		return b
	}
	_, _ = bw.Write(b) // the error sticks in bw
	return b[:0]
}

// appendStream appends the record of stream s.
func appendStream(b []byte, s *indexStream) []byte {
	b = append(b, s.hash[:]...)
	b = binary.AppendUvarint(b, uint64(s.size))
	if !s.delta {
		b = append(b, 0)
		for _, c := range s.chunks {
			b = append(b, c[:]...)
		}
		return b
	}
	b = append(b, 1)
	b = append(b, s.base[:]...)
	b = binary.AppendUvarint(b, uint64(len(s.patches)))
	next := uint64(0)
	for _, p := range s.patches {
		b = binary.AppendUvarint(b, p.pos-next)
		b = append(b, p.id[:]...)
		next = p.pos + 1
	}
	return b
}

// idxParser reads an expanded index object; the first error sticks.
type idxParser struct {
	b   []byte
	err error
}

func (p *idxParser) fail(what string) {
	if p.err == nil {
		p.err = fmt.Errorf("%w: index object: %s", ErrRepoFormat, what)
	}
	p.b = nil
}

func (p *idxParser) uvarint(max uint64) uint64 {
	v, k := binary.Uvarint(p.b)
	if k <= 0 || v > max {
		p.fail("bad number")
		return 0
	}
	p.b = p.b[k:]
	return v
}

func (p *idxParser) bytes(n int) []byte {
	if len(p.b) < n {
		p.fail("truncated")
		return make([]byte, n)
	}
	v := p.b[:n]
	p.b = p.b[n:]
	return v
}

// count reads a count of items of at least min bytes each, bounded by what
// is left, so a hostile count cannot make parse allocate.
// prealloc is the most elements a parse makes room for before reading
// them: a count is bounded by the bytes left, but an object of zeros
// that declared millions made each parse allocate a gigabyte first.
const prealloc = 1 << 12

func (p *idxParser) count(min int) int {
	return int(p.uvarint(uint64(len(p.b) / min)))
}

func (p *idxParser) fullRecipe(s *indexStream) {
	n := nchunks(s.size)
	if n > int64(len(p.b)/32) {
		p.fail("bad stream size")
		return
	}
	s.chunks = make([]index.ID, n)
	for j := range s.chunks {
		s.chunks[j] = index.ID(p.bytes(32))
	}
}

func (p *idxParser) deltaRecipe(s *indexStream) {
	s.delta = true
	s.base = index.SHA1(p.bytes(20))
	count := p.count(33)
	s.patches = make([]patch, 0, min(count, prealloc))
	next, n := uint64(0), uint64(nchunks(s.size))
	for range count {
		pos := next + p.uvarint(n)
		if pos >= n || p.err != nil {
			p.fail("bad patch position")
			return
		}
		s.patches = append(s.patches, patch{pos: pos, id: index.ID(p.bytes(32))})
		next = pos + 1
	}
}

func parseIndexObject(b []byte) (*indexObject, error) {
	if !bytes.HasPrefix(b, []byte(indexMagic)) {
		return nil, fmt.Errorf("%w: index object: bad magic", magicErr(b[:min(len(b), len(indexMagic))], indexMagic))
	}
	p := &idxParser{b: b[len(indexMagic):]}
	n := p.count(33)
	o := &indexObject{packs: make([]indexPack, 0, min(n, prealloc))}
	for range n {
		if p.err != nil {
			break
		}
		pk := indexPack{id: index.ID(p.bytes(32))}
		m := p.count(36)
		if m == 0 {
			p.fail("pack of no chunks") // none is stored: a pack holds one at least
		}
		pk.entries = make([]packEntry, 0, min(m, prealloc))
		for range m {
			if p.err != nil {
				break
			}
			e := packEntry{id: index.ID(p.bytes(32)), offset: p.uvarint(1 << 62)}
			e.stored = uint32(p.uvarint(RepoChunkSize))
			e.raw = uint32(p.uvarint(RepoChunkSize))
			e.codec = p.bytes(1)[0]
			if e.stored == 0 || e.stored > e.raw {
				p.fail("bad chunk length")
			}
			pk.entries = append(pk.entries, e)
		}
		o.packs = append(o.packs, pk)
	}
	if p.err != nil {
		return nil, p.err
	}
	rest := p.b
	o.streams = p.streams(true)
	if p.err != nil {
		// Written by a wimsnap of 2 December 2026 before recipes had
		// kinds (3803bd4), under the same magic: every recipe whole. Only
		// an object that parses exactly so is taken for one.
		old := &idxParser{b: rest}
		if streams := old.streams(false); old.err == nil {
			o.streams, p.err = streams, nil
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	return o, nil
}

// streams parses the stream recipes that end an index object, each with
// its kind byte, or without (whole recipes, the first layout).
func (p *idxParser) streams(kinds bool) []indexStream {
	n := p.count(23)
	streams := make([]indexStream, 0, min(n, prealloc))
	for range n {
		streams = append(streams, indexStream{})
		s := &streams[len(streams)-1]
		s.hash = index.SHA1(p.bytes(20))
		s.size = int64(p.uvarint(1 << 62))
		if s.size == 0 {
			p.fail("bad stream size")
			break
		}
		kind := byte(0)
		if kinds {
			kind = p.bytes(1)[0]
		}
		switch kind {
		case 0:
			p.fullRecipe(s)
		case 1:
			p.deltaRecipe(s)
		default:
			p.fail("bad recipe kind")
		}
		if p.err != nil {
			break
		}
	}
	if p.err == nil && len(p.b) != 0 {
		p.fail("trailing bytes")
	}
	return streams
}

// addTo records in b the chunks and streams of an object this process
// wrote: a delta as a delta where its base is in b or db, else whole;
// streams whose chunks it does not hold are left out.
func (o *indexObject) addTo(b *index.Batch, db *index.DB) {
	n := 0
	for _, p := range o.packs {
		n += len(p.entries)
	}
	b.Grow(n, len(o.streams))
	for _, p := range o.packs {
		for _, e := range p.entries {
			b.AddChunk(e.id, p.location(e))
		}
	}
	for _, s := range o.order() {
		switch {
		case s.chunks == nil:
		case s.delta && baseFits(b, db, s):
			b.AddDelta(s.hash, s.indexDelta())
		default:
			b.AddStream(s.hash, index.Recipe{Size: s.size, Chunks: s.chunks})
		}
	}
}

// baseFits reports whether the delta s resolves on its base as b or db
// has it.
func baseFits(b *index.Batch, db *index.DB, s *indexStream) bool {
	n := knownLen(b, db, s.base)
	return n >= 0 && s.fits(n)
}

// knownLen returns the chunk count of stream h as b or db has it, or -1
// when neither does (or db cannot say).
func knownLen(b *index.Batch, db *index.DB, h index.SHA1) int64 {
	if n, ok := b.StreamLen(h); ok {
		return n
	}
	if n, ok, err := db.StreamLen(h); ok && err == nil {
		return n
	}
	return -1
}
