package wim

import (
	"context"
	"fmt"
	"slices"
)

// rawCopies reports whether the blob b of r can go into w as it is
// stored: in a non-solid resource of r's own file, not pipable (whose
// chunks are laid out otherwise), in w's codec and chunk size.
func (r *Reader) rawCopies(b *blob, w *Writer) bool {
	return b.solid == nil && b.in == r && !r.hdr.Split() && !r.hdr.Pipable && b.res.size > 0 && r.hdr.Compression == w.comp &&
		(w.comp == CompressNone || r.hdr.ChunkSize == chunkSize)
}

// copyRaw copies the blob b of r into w chunk by chunk, as it is stored
// (AddRawStream): an uncompressed resource in 32 KiB slices, a compressed
// one by its chunk table.
func copyRaw(ctx context.Context, w *Writer, r *Reader, b *blob, progress func(n int64)) error {
	res := b.res
	if res.offset < 0 || res.storedSize > r.size-res.offset {
		return fmt.Errorf("%w: blob %x: resource at offset %d of %d bytes lies outside the %d-byte file",
			ErrFormat, b.hash, res.offset, res.storedSize, r.size)
	}
	var table *chunkTable
	if res.flags&resCompressed != 0 {
		t, err := newChunkTable(r.ra, res, chunkSize, false)
		if err != nil {
			return fmt.Errorf("blob %x: %w", b.hash, err)
		}
		table = t
	} else if res.storedSize != res.size {
		return fmt.Errorf("%w: blob %x: uncompressed resource at offset %d has stored size %d != size %d",
			ErrFormat, b.hash, res.offset, res.storedSize, res.size)
	}
	var k int64
	next := func(buf []byte) ([]byte, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		off, stored, size := res.offset+k*chunkSize, min(chunkSize, res.size-k*chunkSize), min(chunkSize, res.size-k*chunkSize)
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
