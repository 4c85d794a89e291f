package wim

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// solidHeaderSize is the size of a solid resource's own header: uncompressed
// size (u64), chunk size (u32) and codec (u32).
const solidHeaderSize = 16

// solidRes is one solid resource: the bytes of many blobs, concatenated and
// cut into chunks that are compressed independently, with a codec and chunk
// size of its own. Its chunk table (the stored size of every chunk) is read
// on first use.
type solidRes struct {
	entry     resHdr // offset and stored size in the file
	logical   int64  // start of its bytes in its group's concatenation
	size      int64  // uncompressed bytes
	chunkSize int64
	codec     Compression
	n         int64 // number of chunks

	once   sync.Once
	starts []int64 // start of each chunk relative to the data, n+1 entries
	err    error
}

// openSolid reads the header of the solid resource that e describes.
func openSolid(r io.ReaderAt, fileSize int64, e resHdr, logical int64) (*solidRes, error) {
	if e.offset < 0 || e.storedSize < solidHeaderSize || e.storedSize > fileSize-e.offset {
		return nil, fmt.Errorf("%w: solid resource at offset %d of %d bytes lies outside the %d-byte file",
			ErrFormat, e.offset, e.storedSize, fileSize)
	}
	var b [solidHeaderSize]byte
	if _, err := r.ReadAt(b[:], e.offset); err != nil {
		return nil, fmt.Errorf("%w: reading solid resource header at offset %d: %w", ErrFormat, e.offset, err)
	}
	le := binary.LittleEndian
	s := &solidRes{entry: e, logical: logical, size: int64(le.Uint64(b[:]) & (1<<63 - 1)),
		chunkSize: int64(le.Uint32(b[8:])), codec: Compression(le.Uint32(b[12:]))}
	if s.codec < CompressNone || s.codec > CompressLZMS {
		return nil, fmt.Errorf("%w: solid resource at offset %d: codec %d", ErrFormat, e.offset, le.Uint32(b[12:]))
	}
	if err := checkChunkSize(s.codec, uint32(s.chunkSize)); err != nil {
		return nil, fmt.Errorf("solid resource at offset %d: %w", e.offset, err)
	}
	s.n = s.size / s.chunkSize // without overflow, which a size near 2^63 would cause
	if s.size%s.chunkSize != 0 {
		s.n++
	}
	// Every chunk takes a 4-byte table entry and at least one stored byte.
	if s.size == 0 || s.n > (e.storedSize-solidHeaderSize)/5 {
		return nil, fmt.Errorf("%w: solid resource at offset %d: %d bytes in %d-byte chunks do not fit in %d stored bytes",
			ErrFormat, e.offset, s.size, s.chunkSize, e.storedSize)
	}
	return s, nil
}

// dataStart returns the file offset of chunk 0.
func (s *solidRes) dataStart() int64 { return s.entry.offset + solidHeaderSize + 4*s.n }

// load reads the chunk table once; its error sticks.
func (s *solidRes) load(r io.ReaderAt) error {
	s.once.Do(func() {
		b := make([]byte, 4*s.n)
		if _, err := r.ReadAt(b, s.entry.offset+solidHeaderSize); err != nil {
			s.err = fmt.Errorf("%w: solid resource at offset %d: reading chunk table: %w", ErrFormat, s.entry.offset, err)
			return
		}
		starts := make([]int64, s.n+1)
		avail := s.entry.storedSize - solidHeaderSize - 4*s.n
		for k := range s.n {
			stored := int64(binary.LittleEndian.Uint32(b[4*k:]))
			starts[k+1] = starts[k] + stored
			if stored == 0 || stored > s.chunkLen(k) || starts[k+1] > avail {
				s.err = fmt.Errorf("%w: solid resource at offset %d: chunk %d of %d stored bytes (expands to %d, %d stored bytes in all)",
					ErrFormat, s.entry.offset, k, stored, s.chunkLen(k), avail)
				return
			}
		}
		s.starts = starts
	})
	return s.err
}

// chunkLen returns the number of bytes chunk k expands to.
func (s *solidRes) chunkLen(k int64) int64 {
	if k == s.n-1 {
		return s.size - k*s.chunkSize
	}
	return s.chunkSize
}

// chunk returns the file offset and stored length of chunk k and the size
// it expands to; the table must be loaded.
func (s *solidRes) chunk(k int64) (off, stored, size int64) {
	return s.dataStart() + s.starts[k], s.starts[k+1] - s.starts[k], s.chunkLen(k)
}

// solidGroup resolves a run of consecutive SOLID blob-table entries:
// resource entries (marked by their uncompressed size) in order lay out one
// logical byte string, and blob entries locate their bytes in it by offset
// (their stored-size field holding their size). It returns the blobs, each
// inside one resource.
func (r *Reader) solidGroup(entries []blob) ([]*blob, error) {
	var res []*solidRes
	var logical int64
	for i := range entries {
		if e := &entries[i]; e.res.size == solidResourceMarker {
			s, err := openSolid(r.ra, r.size, e.res, logical)
			if err != nil {
				return nil, err
			}
			res = append(res, s)
			logical += s.size
		}
	}
	var blobs []*blob
	for i := range entries {
		b := &entries[i]
		if b.res.size == solidResourceMarker || b.hash.IsZero() || b.res.storedSize == 0 {
			continue
		}
		size, off := b.res.storedSize, b.res.offset
		s := findSolid(res, off, size)
		if s == nil {
			return nil, fmt.Errorf("%w: blob %x: %d bytes at offset %d lie in no solid resource of its group",
				ErrFormat, b.hash, size, off)
		}
		b.res = resHdr{size: size, offset: off - s.logical}
		b.solid = s
		blobs = append(blobs, b)
	}
	return blobs, nil
}

// findSolid returns the resource holding size bytes at logical offset off;
// res is in increasing logical order (none is empty), so a binary search
// finds it, which keeps a group of many resources and blobs linear.
func findSolid(res []*solidRes, off, size int64) *solidRes {
	i, _ := slices.BinarySearchFunc(res, off, func(s *solidRes, off int64) int { return cmp.Compare(s.logical, off+1) })
	if i == 0 {
		return nil
	}
	s := res[i-1] // the last that starts at or before off
	if off-s.logical < s.size && size <= s.size-(off-s.logical) {
		return s
	}
	return nil
}

// openSolid prepares s to read its blob from a solid resource: the chunk
// holding the blob's first byte comes next, entered at the blob's offset.
func (s *streamReader) openSolid() error {
	sr := s.b.solid
	if err := sr.load(s.r.ra); err != nil {
		return fmt.Errorf("blob %x: %w", s.b.hash, err)
	}
	s.solid = sr
	s.next = s.b.res.offset / sr.chunkSize
	if s.remain > 0 {
		data, err := s.solidChunk()
		if err != nil {
			return err
		}
		s.view = data[s.b.res.offset%sr.chunkSize:]
	}
	return nil
}

// readSolid fills p (no longer than what is left of the blob) from the
// solid resource's chunks.
func (s *streamReader) readSolid(p []byte) (int, error) {
	if len(s.view) == 0 {
		// The next chunk is held before the current one is let go, so
		// that the cache sees where this reader is (lowestHeld).
		prev := s.held
		s.held, s.view = chunkRef{}, nil
		data, err := s.solidChunk()
		prev.release()
		if err != nil {
			return 0, err
		}
		s.view = data
	}
	n := copy(p, s.view)
	s.view = s.view[n:]
	return n, nil
}

// releaseChunk lets go of the current solid chunk.
func (s *streamReader) releaseChunk() {
	s.held.release()
	s.held, s.view = chunkRef{}, nil
}

// solidChunk returns chunk s.next of the solid resource, decompressed,
// through the Reader's cache, holds it, and advances s.next.
func (s *streamReader) solidChunk() ([]byte, error) {
	sr, k := s.solid, s.next
	if k >= sr.n {
		return nil, fmt.Errorf("%w: blob %x runs past the end of its solid resource at offset %d", ErrFormat, s.b.hash, sr.entry.offset)
	}
	c := &s.r.cache
	load := func() ([]byte, error) { return s.r.decodeSolidChunk(sr, k) }
	next := k + 1
	loadNext := func() ([]byte, error) { return s.r.decodeSolidChunk(sr, next) }
	e, loadHere := c.hold(sr, k)
	large := next < sr.n && sr.chunkSize > maxPrefetchChunk
	if large {
		// The next chunk is decompressed alongside this one, on another
		// core, when there is room for it.
		if loadHere {
			go c.finish(e, load)
			loadHere = false
		}
		c.prefetchBounded(sr, k, loadNext)
	}
	if loadHere {
		c.finish(e, load)
	}
	data, ref, err := c.wait(e)
	if err != nil {
		return nil, fmt.Errorf("blob %x: %w", s.b.hash, err)
	}
	s.held = ref
	if next < sr.n && !large {
		c.prefetch(sr, next, loadNext)
	}
	s.next++
	return data, nil
}

// decodeSolidChunk reads and decompresses chunk k of sr into a new buffer.
func (r *Reader) decodeSolidChunk(sr *solidRes, k int64) ([]byte, error) {
	r.solidDecoded.Add(1)
	off, stored, size := sr.chunk(k)
	buf := r.cache.buffer(size)
	if buf == nil {
		buf = make([]byte, 0, size)
	}
	if stored == size {
		out := buf[:size]
		if _, err := r.ra.ReadAt(out, off); err != nil {
			return nil, fmt.Errorf("%w: solid resource at offset %d: reading chunk %d at offset %d: %w", ErrFormat, sr.entry.offset, k, off, err)
		}
		return out, nil
	}
	cs := r.getChunkState(sr.codec, sr.chunkSize)
	defer r.putChunkState(cs)
	out, err := r.decodeCompressed(cs, buf, sr, k)
	if err != nil {
		if errors.Is(err, ErrUnsupported) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: solid resource at offset %d: %v chunk %d at offset %d: %w", ErrFormat, sr.entry.offset, sr.codec, k, off, err)
	}
	return out, nil
}

// decodeCompressed appends compressed chunk k of sr, decompressed, to buf.
// A large chunk is read as it is decompressed when the codec can do that
// (LZMS); otherwise its compressed bytes are read whole (solidInputs).
func (r *Reader) decodeCompressed(cs *chunkState, buf []byte, sr *solidRes, k int64) ([]byte, error) {
	off, stored, size := sr.chunk(k)
	if at, ok := cs.dec.(chunkDecoderAt); ok && sr.chunkSize > maxPrefetchChunk {
		return at.DecodeAt(buf, r.ra, off, stored, int(size))
	}
	in, done := r.solidInputs.take(sr, k, cs)
	defer done()
	if _, err := r.ra.ReadAt(in, off); err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	return cs.dec.Decode(buf, in, int(size))
}

// hasSolid reports whether any blob lies in a solid resource.
func (r *Reader) hasSolid() bool {
	for _, b := range r.blobs {
		if b.solid != nil {
			return true
		}
	}
	return false
}

// rankSolid numbers the solid blobs in the order their bytes lie; it runs
// once, on the first call of SolidOrder.
func (r *Reader) rankSolid() {
	var bs []*blob
	for _, b := range r.blobs {
		if b.solid != nil {
			bs = append(bs, b)
		}
	}
	slices.SortFunc(bs, compareBlobs)
	for i, b := range bs {
		b.rank = i
	}
}

// SolidOrder reports whether the stream with hash h lies in a solid
// resource and, if so, its rank in the order of the solid streams' bytes.
// Reading solid streams in rank order decompresses each chunk once;
// reading them in another order may decompress a chunk (up to 64 MiB for
// DISM's and wimlib's LZMS) again for every stream, beyond what the
// Reader's cache holds.
func (r *Reader) SolidOrder(h Hash) (rank int, solid bool) {
	r.ranked.Do(r.rankSolid)
	if b := r.blobs[h]; b != nil && b.solid != nil {
		return b.rank, true
	}
	return 0, false
}
