package wim

import (
	"cmp"
	"crypto/sha1"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
)

// blob is one blob-table entry: a stream's bytes somewhere in the file.
type blob struct {
	hash     Hash
	res      resHdr    // the resource holding the blob; for a solid blob, its size and offset in solid
	solid    *solidRes // the solid resource holding the blob, or nil
	rank     int       // a solid blob's place in the order of solid blobs
	part     uint16
	refCount uint32
	in       *Reader // the part of a split WIM whose file holds the blob; for others, the Reader
}

// compareBlobs orders blobs by where their bytes lie: by part of a split
// WIM, by resource, then by offset inside a solid resource.
func compareBlobs(a, b *blob) int {
	return cmp.Or(cmp.Compare(a.part, b.part), cmp.Compare(a.fileOffset(), b.fileOffset()),
		cmp.Compare(a.res.offset, b.res.offset))
}

// fileOffset returns the file offset of the resource holding b.
func (b *blob) fileOffset() int64 {
	if b.solid != nil {
		return b.solid.entry.offset
	}
	return b.res.offset
}

// streamReader reads one blob sequentially, decompressing chunk by chunk,
// and checks the blob's SHA-1 when it reaches the end: the final Read
// returns an error wrapping ErrChecksum instead of io.EOF on a mismatch.
type streamReader struct {
	r      *Reader
	b      *blob
	sum    hash.Hash
	remain int64 // bytes not yet returned

	raw         *io.SectionReader // uncompressed resource
	table       *chunkTable       // compressed resource
	solid       *solidRes         // solid resource
	view        []byte            // unread part of the current solid chunk (shared)
	held        chunkRef          // the hold on the chunk view is part of
	next        int64             // next chunk index
	*chunkState                   // decoder and buffers, pooled by the Reader
	pos         int
	err         error
	// where names the file of a blob in a part of a split WIM or in a
	// WIM added by AddRef, for the errors (FileError); "" for a blob in
	// the one file of a Reader that is not split.
	where string
}

func (r *Reader) newStreamReader(b *blob) (*streamReader, error) {
	s, err := b.in.openBlob(b)
	if b.in == r && !r.hdr.Split() {
		return s, err
	}
	// In a part of a split WIM (this one too, since the set is one WIM
	// whose parts the errors must tell apart), or in a WIM added by AddRef.
	where := b.in.fileName()
	if err != nil {
		return nil, &FileError{File: where, Err: err}
	}
	s.where = where
	return s, nil
}

// openBlob is newStreamReader for a blob in r's own file.
func (r *Reader) openBlob(b *blob) (*streamReader, error) {
	if b.solid != nil {
		s := &streamReader{r: r, b: b, sum: sha1.New(), remain: b.res.size}
		return s, s.openSolid()
	}
	if b.res.offset < 0 || b.res.storedSize > r.size-b.res.offset {
		return nil, fmt.Errorf("%w: blob %x: resource at offset %d of %d bytes lies outside the %d-byte file",
			ErrFormat, b.hash, b.res.offset, b.res.storedSize, r.size)
	}
	if r.hdr.Pipable {
		if err := r.checkBlobHeader(b); err != nil {
			return nil, err
		}
	}
	s := &streamReader{r: r, b: b, sum: sha1.New(), remain: b.res.size}
	if b.res.flags&resCompressed == 0 {
		if b.res.storedSize != b.res.size {
			return nil, fmt.Errorf("%w: blob %x: uncompressed resource at offset %d has stored size %d != size %d",
				ErrFormat, b.hash, b.res.offset, b.res.storedSize, b.res.size)
		}
		s.raw = io.NewSectionReader(r.ra, b.res.offset, b.res.size)
		return s, nil
	}
	t, err := newChunkTable(r.ra, b.res, int64(r.hdr.ChunkSize), r.hdr.Pipable)
	if err != nil {
		return nil, fmt.Errorf("blob %x: %w", b.hash, err)
	}
	s.table = t
	s.chunkState = r.getChunkState(r.hdr.Compression, int64(r.hdr.ChunkSize))
	return s, nil
}

// Read implements io.Reader. The errors about a blob in the file of
// another Reader (see where) name that file first.
func (s *streamReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.read(p)
	//nolint:errorlint // the end is io.EOF itself; a wrapped one (a short read) is a failure
	if err != nil && err != io.EOF && s.where != "" {
		s.err = &FileError{File: s.where, Err: err}
		err = s.err
	}
	return n, err
}

// read is Read without the file's name; it returns s.err with what it read.
func (s *streamReader) read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.remain == 0 {
		s.err = s.finish()
		return 0, s.err
	}
	var n int
	if s.raw != nil {
		var err error
		n, err = s.raw.Read(p[:min(int64(len(p)), s.remain)])
		switch {
		case n == 0 && err == nil || err == io.EOF && int64(n) < s.remain:
			s.err = fmt.Errorf("%w: blob %x: resource at offset %d ends early", ErrFormat, s.b.hash, s.b.res.offset)
		case err == io.EOF:
			s.err = nil
		default:
			s.err = err
		}
	} else {
		if s.solid != nil {
			n, s.err = s.readSolid(p[:min(int64(len(p)), s.remain)])
		} else {
			n, s.err = s.readChunked(p)
		}
		if s.err != nil {
			return 0, s.err
		}
	}
	s.sum.Write(p[:n])
	s.remain -= int64(n)
	return n, s.err
}

// readChunked fills p from the decompressed chunks. When nothing is
// buffered and p can take the whole next chunk, the chunk is decoded
// straight into p, saving a copy.
func (s *streamReader) readChunked(p []byte) (int, error) {
	if s.pos < len(s.out) {
		n := copy(p, s.out[s.pos:])
		s.pos += n
		return n, nil
	}
	if int64(len(p)) >= s.table.size(s.next) {
		out, err := s.loadChunk(p[:0])
		return len(out), err
	}
	out, err := s.loadChunk(s.out[:0])
	if err != nil {
		return 0, err
	}
	s.out, s.pos = out, 0
	n := copy(p, s.out)
	s.pos = n
	return n, nil
}

// loadChunk decompresses the next chunk, appending it to dst.
func (s *streamReader) loadChunk(dst []byte) ([]byte, error) {
	off, stored, size, err := s.table.chunk(s.next)
	if err == nil {
		err = s.table.checkPrefix(s.next, off, stored)
	}
	if err != nil {
		return nil, fmt.Errorf("blob %x: %w", s.b.hash, err)
	}
	if stored == size { // a raw chunk: read it in place
		n := len(dst)
		dst = slices.Grow(dst, int(size))[:n+int(size)]
		if _, err := s.r.ra.ReadAt(dst[n:], off); err != nil {
			return nil, s.readErr(off, err)
		}
		s.next++
		return dst, nil
	}
	if cap(s.in) < int(stored) {
		s.in = make([]byte, stored)
	}
	s.in = s.in[:stored]
	if _, err := s.r.ra.ReadAt(s.in, off); err != nil {
		return nil, s.readErr(off, err)
	}
	if dst, err = s.dec.Decode(dst, s.in, int(size)); err != nil {
		if errors.Is(err, ErrUnsupported) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: blob %x: chunk %d at offset %d: %w", ErrFormat, s.b.hash, s.next, off, err)
	}
	s.next++
	return dst, nil
}

// readErr describes a failed read of the chunk at off.
func (s *streamReader) readErr(off int64, err error) error {
	return fmt.Errorf("%w: blob %x: reading chunk %d at offset %d: %w", ErrFormat, s.b.hash, s.next, off, err)
}

// finish compares the SHA-1 of everything read with the blob's hash.
func (s *streamReader) finish() error {
	var got Hash
	s.sum.Sum(got[:0])
	if got != s.b.hash {
		return fmt.Errorf("%w: blob %x (resource at offset %d) has SHA-1 %x", ErrChecksum, s.b.hash, s.b.res.offset, got)
	}
	return io.EOF
}

// Close releases the reader's decoder and buffers. It never fails.
func (s *streamReader) Close() error {
	s.releaseChunk()
	if s.chunkState != nil {
		s.r.putChunkState(s.chunkState)
		s.chunkState = nil
	}
	s.err = fmt.Errorf("wim: read of closed stream")
	return nil
}

// closeStream closes a reader that OpenStream returned. Its Close never
// fails, so there is no error to check.
func closeStream(c io.Closer) { _ = c.Close() }
