package wim

import (
	"encoding/binary"
	"fmt"
	"io"
)

// finish ends a resource on the output goroutine: it drops a duplicate or
// aborted one (rewinding over its chunks) or completes its layout and
// records where it lies.
func (w *Writer) finish(res *pendingRes) error {
	if res.blob == nil {
		if res.single != nil {
			w.pipe.put(res.single)
			return nil
		}
		if len(res.sizes) > 0 {
			return w.rewind(res.start)
		}
		return nil
	}
	var hdr resHdr
	var err error
	switch {
	case res.single != nil:
		hdr, err = w.finishSingle(res)
	case w.comp == CompressNone || res.stored:
		hdr = resHdr{storedSize: res.size, offset: res.start, size: res.size}
	default:
		hdr, err = w.finishChunked(res)
	}
	if res.meta {
		hdr.flags |= resMetadata
	}
	res.blob.res = hdr
	return err
}

// finishSingle writes a one-chunk resource: compressed if that shrank it,
// else raw with COMPRESSED clear (the whole-resource fallback).
func (w *Writer) finishSingle(res *pendingRes) (resHdr, error) {
	j := res.single
	defer w.pipe.put(j)
	hdr := resHdr{offset: w.pos, size: res.size}
	if !j.raw && w.comp != CompressNone {
		hdr.flags = resCompressed
	}
	hdr.storedSize = int64(len(j.data))
	return hdr, w.write(j.data)
}

// finishChunked fills in the chunk table reserved at the resource start.
func (w *Writer) finishChunked(res *pendingRes) (resHdr, error) {
	tb := tableBytes(res.size, res.nchunks)
	table := make([]byte, 0, tb)
	var off int64
	for _, n := range res.sizes[:len(res.sizes)-1] {
		off += n
		if tb/(res.nchunks-1) == 8 {
			table = binary.LittleEndian.AppendUint64(table, uint64(off))
		} else {
			table = binary.LittleEndian.AppendUint32(table, uint32(off))
		}
	}
	if err := w.writeAt(table, res.start); err != nil {
		return resHdr{}, err
	}
	return resHdr{storedSize: w.pos - res.start, flags: resCompressed, offset: res.start, size: res.size}, nil
}

// writeAt overwrites bytes already written at off, then returns to the end.
func (w *Writer) writeAt(p []byte, off int64) error {
	if err := w.out.Flush(); err != nil {
		return fmt.Errorf("wim: write: %w", err)
	}
	if _, err := w.dst.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("wim: seek: %w", err)
	}
	if _, err := w.dst.Write(p); err != nil {
		return fmt.Errorf("wim: write: %w", err)
	}
	if _, err := w.dst.Seek(w.pos, io.SeekStart); err != nil {
		return fmt.Errorf("wim: seek: %w", err)
	}
	return nil
}

// rewind moves the end of the data back to off, so that later resources
// overwrite a dropped one.
func (w *Writer) rewind(off int64) error {
	if err := w.out.Flush(); err != nil {
		return fmt.Errorf("wim: write: %w", err)
	}
	if _, err := w.dst.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("wim: seek: %w", err)
	}
	w.pos = off
	return nil
}
