package wim

import (
	"errors"
	"fmt"
)

// AddRawStream adds the stream h of size bytes from chunks that are already
// stored in the Writer's codec, copying them without recompressing (zip's
// CreateRaw). next is called once per chunk, in order, with a buffer it may
// fill and return: the chunk's stored bytes, which expand to 32 KiB (the
// last chunk to the rest of size). A stored chunk as long as its expanded
// size is raw; with compression none every chunk must be raw.
//
// The chunks are neither decompressed nor hashed: the caller vouches that
// they make up the stream h (wimsnap verify checks a finished WIM). A stream
// the WIM already holds is not added again and next is not called. An
// error of next, or a chunk of impossible length, drops the stream and is
// returned; the Writer stays usable.
func (w *Writer) AddRawStream(h Hash, size int64, next func(buf []byte) ([]byte, error)) error {
	if err := w.getErr(); err != nil {
		return err
	}
	if w.closed {
		return errors.New("wim: write to closed Writer")
	}
	if size <= 0 || h.IsZero() {
		return fmt.Errorf("wim: raw stream %x of size %d", h, size)
	}
	if w.blobs[h] != nil {
		return nil
	}
	res := w.newPendingRes(size)
	for i := range res.nchunks {
		j := w.pipe.get(res)
		if err := w.fillRaw(j, i, size, next); err != nil {
			w.pipe.put(j)
			w.pipe.end(res)
			return err
		}
		w.pipe.submitDone(j)
	}
	b := &wblob{hash: h, size: size}
	w.blobs[h] = b
	w.sizes[size]++
	res.blob = b
	w.pipe.end(res)
	return w.getErr()
}

// fillRaw puts chunk i of a raw stream into job j.
func (w *Writer) fillRaw(j *chunkJob, i, size int64, next func([]byte) ([]byte, error)) error {
	cs := int64(w.chunkSize())
	want := min(cs, size-i*cs)
	stored, err := next(j.data[:0])
	if err != nil {
		return err
	}
	switch n := int64(len(stored)); {
	case n == want:
		j.raw = true
	case n == 0 || n > want || w.comp == CompressNone:
		return fmt.Errorf("%w: raw chunk %d of stream: %d stored bytes for %d", ErrFormat, i, n, want)
	default:
		j.raw = false
	}
	// stored may be the caller's buffer or lie in j.data (append copies
	// with memmove): the pool reuses j.data, so never keep the caller's.
	j.data = append(j.data[:0], stored...)
	return nil
}
