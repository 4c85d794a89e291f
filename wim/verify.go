package wim

import (
	"fmt"
	"io"
	"slices"
)

// VerifyProgress reports bytes checked so far out of total.
type VerifyProgress func(done, total int64)

// Verify does what `wimlib-imagex verify` does: checks that no part of a
// split WIM is missing, the integrity table when present (each part's), loads every image's metadata (checking its SHA-1 and
// structure), checks that every stream an image references exists, then
// reads every blob and checks its SHA-1. It returns the first error found.
func (r *Reader) Verify(p VerifyProgress) error {
	var total, done int64
	for _, b := range r.blobs {
		total += b.res.size
	}
	report := func(n int64) {
		done += n
		if p != nil {
			p(done, total)
		}
	}
	if err := r.checkParts(); err != nil {
		return err
	}
	if err := r.CheckIntegrity(nil); err != nil {
		return err
	}
	for i := 1; i <= r.ImageCount(); i++ {
		m, err := r.Metadata(i)
		if err != nil {
			return err
		}
		if err := r.checkReferences(i, m); err != nil {
			return err
		}
	}
	buf := make([]byte, 256<<10)
	for _, b := range r.sortedBlobs() {
		if err := r.verifyBlob(b, buf, report); err != nil {
			return err
		}
	}
	return nil
}

// checkReferences reports the first stream of image i missing from the table.
func (r *Reader) checkReferences(i int, m *Metadata) error {
	return m.Visit(func(e *Entry, path func() string) error {
		for _, s := range e.Streams() {
			if !s.Hash.IsZero() && r.blobs[s.Hash] == nil {
				return fmt.Errorf("%w: image %d: %s: stream %x is not in the blob table", ErrNotFound, i, path(), s.Hash)
			}
		}
		return nil
	})
}

// sortedBlobs returns the blobs in file order, for sequential reads.
func (r *Reader) sortedBlobs() []*blob {
	bs := make([]*blob, 0, len(r.blobs))
	for _, b := range r.blobs {
		bs = append(bs, b)
	}
	slices.SortFunc(bs, compareBlobs)
	return bs
}

// verifyBlob reads one blob through a checking stream.
func (r *Reader) verifyBlob(b *blob, buf []byte, report func(int64)) error {
	s, err := r.OpenStream(b.hash)
	if err != nil {
		return err
	}
	defer closeStream(s)
	for {
		n, err := s.Read(buf)
		report(int64(n))
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Streams returns e's non-empty-named or unnamed streams: the reparse
// stream (when a reparse point), the unnamed data stream, and the named
// streams.
func (e *Entry) Streams() []Stream { return e.appendStreams(nil) }

// appendStreams appends what Streams returns to dst.
func (e *Entry) appendStreams(dst []Stream) []Stream {
	if e.IsReparse() {
		dst = append(dst, e.ReparseStream())
	}
	dst = append(dst, e.Data)
	return append(dst, e.NamedStreams()...)
}
