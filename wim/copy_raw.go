package wim

import (
	"context"
	"fmt"
	"io"
	"slices"
)

// rawCopies reports whether the blob b of r can go into w as it is
// stored: in a non-solid resource of r's own file, not pipable (whose
// chunks are laid out otherwise), in w's codec and chunk size.
func (r *Reader) rawCopies(b *blob, w *Writer) bool {
	return b.solid == nil && b.in == r && !r.hdr.Split() && !r.hdr.Pipable && b.res.size > 0 && r.hdr.Compression == w.comp &&
		(w.comp == CompressNone || r.hdr.ChunkSize == uint32(w.chunkSize()))
}

// copyRaw copies the blob b of r into w chunk by chunk, as it is stored
// (AddRawStream): a compressed resource by its chunk table, an uncompressed
// one in 32 KiB slices into an uncompressed WIM, and as an uncompressed
// resource into a compressed one (copyStored).
func copyRaw(ctx context.Context, w *Writer, r *Reader, b *blob, progress func(n int64)) error {
	res := b.res
	if res.offset < 0 || res.storedSize > r.size-res.offset {
		return fmt.Errorf("%w: blob %x: resource at offset %d of %d bytes lies outside the %d-byte file",
			ErrFormat, b.hash, res.offset, res.storedSize, r.size)
	}
	cs := int64(w.chunkSize()) // r's too, if compressed (rawCopies)
	var table *chunkTable
	if res.flags&resCompressed != 0 {
		t, err := newChunkTable(r.ra, res, cs, false)
		if err != nil {
			return fmt.Errorf("blob %x: %w", b.hash, err)
		}
		table = t
	} else if res.storedSize != res.size {
		return fmt.Errorf("%w: blob %x: uncompressed resource at offset %d has stored size %d != size %d",
			ErrFormat, b.hash, res.offset, res.storedSize, res.size)
	} else if w.comp != CompressNone {
		return copyStored(ctx, w, r, b, progress)
	}
	var k int64
	next := func(buf []byte) ([]byte, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		off, stored, size := res.offset+k*cs, min(cs, res.size-k*cs), min(cs, res.size-k*cs)
		if table != nil {
			var err error
			if off, stored, size, err = table.chunk(k); err != nil {
				return nil, err
			}
		}
		buf = slices.Grow(buf[:0], int(stored))[:stored]
		if _, err := r.ra.ReadAt(buf, off); err != nil {
			return nil, fmt.Errorf("blob %x: chunk %d: %w", b.hash, k, err)
		}
		k++
		if progress != nil {
			progress(size)
		}
		return buf, nil
	}
	return w.AddRawStream(b.hash, res.size, next)
}

// copyStored copies the uncompressed resource of the blob b of r into w as
// an uncompressed resource (AddStoredStream), as wimlib keeps a stream that
// did not compress: chunked, it would gain a chunk table and lose nothing.
// Its SHA-1 is checked as it goes, which costs no decompression.
func copyStored(ctx context.Context, w *Writer, r *Reader, b *blob, progress func(n int64)) error {
	sr := io.NewSectionReader(r.ra, b.res.offset, b.res.size)
	got, err := w.AddStoredStream(&progressReader{ctx: ctx, r: sr, fn: progress}, b.res.size)
	if err != nil {
		return fmt.Errorf("blob %x: %w", b.hash, err)
	}
	if got != b.hash {
		return fmt.Errorf("%w: stream %x read back as %x", ErrChecksum, b.hash, got)
	}
	return nil
}
