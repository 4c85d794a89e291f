package wim

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"hash"
	"io"
)

// blob is one blob-table entry: a stream's bytes somewhere in the file.
type blob struct {
	hash     Hash
	res      resHdr // the resource holding the blob (non-solid)
	part     uint16
	refCount uint32
}

// streamReader reads one blob sequentially, decompressing chunk by chunk,
// and checks the blob's SHA-1 when it reaches the end: the final Read
// returns an error wrapping ErrChecksum instead of io.EOF on a mismatch.
type streamReader struct {
	r      *Reader
	b      *blob
	sum    hash.Hash
	remain int64 // bytes not yet returned

	raw   *io.SectionReader // uncompressed resource
	table *chunkTable       // compressed resource
	next  int64             // next chunk index
	dec   chunkDecoder
	in    []byte
	out   []byte
	pos   int
	err   error
}

func (r *Reader) newStreamReader(b *blob) (*streamReader, error) {
	if b.res.offset < 0 || b.res.storedSize > r.size-b.res.offset {
		return nil, fmt.Errorf("%w: blob %x: resource at offset %d of %d bytes lies outside the %d-byte file",
			ErrFormat, b.hash, b.res.offset, b.res.storedSize, r.size)
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
	t, err := newChunkTable(r.ra, b.res, int64(r.hdr.ChunkSize))
	if err != nil {
		return nil, fmt.Errorf("blob %x: %w", b.hash, err)
	}
	s.table = t
	s.dec = r.getDecoder()
	return s, nil
}

// Read implements io.Reader.
func (s *streamReader) Read(p []byte) (int, error) {
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
		if s.pos == len(s.out) {
			if s.err = s.loadChunk(); s.err != nil {
				return 0, s.err
			}
		}
		n = copy(p, s.out[s.pos:])
		s.pos += n
	}
	s.sum.Write(p[:n])
	s.remain -= int64(n)
	return n, s.err
}

// loadChunk decompresses the next chunk into s.out.
func (s *streamReader) loadChunk() error {
	off, stored, size, err := s.table.chunk(s.next)
	if err != nil {
		return fmt.Errorf("blob %x: %w", s.b.hash, err)
	}
	if cap(s.in) < int(stored) {
		s.in = make([]byte, stored)
	}
	s.in = s.in[:stored]
	if _, err := s.r.ra.ReadAt(s.in, off); err != nil {
		return fmt.Errorf("%w: blob %x: reading chunk %d at offset %d: %w", ErrFormat, s.b.hash, s.next, off, err)
	}
	if stored == size {
		s.out = append(s.out[:0], s.in...)
	} else if s.out, err = s.dec.Decode(s.out[:0], s.in, int(size)); err != nil {
		if errors.Is(err, ErrUnsupported) {
			return err
		}
		return fmt.Errorf("%w: blob %x: chunk %d at offset %d: %w", ErrFormat, s.b.hash, s.next, off, err)
	}
	s.next++
	s.pos = 0
	return nil
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

// Close releases the reader's decoder. It never fails.
func (s *streamReader) Close() error {
	if s.dec != nil {
		s.r.putDecoder(s.dec)
		s.dec = nil
	}
	s.err = fmt.Errorf("wim: read of closed stream")
	return nil
}

// closeStream closes a reader that OpenStream returned. Its Close never
// fails, so there is no error to check.
func closeStream(c io.Closer) { _ = c.Close() }
