package wim

import (
	"errors"
	"fmt"
	"math"
	"os"
)

// OpenAppend opens the WIM in f (opened read-write) for appending images.
// The old images, blobs and XML are kept; new data goes after the old
// tables, which become dead space, and the header is rewritten last, so an
// interrupted append leaves the old WIM readable. The file's codec is kept:
// a WithCompression naming another codec is an error. The returned Reader
// reads the file as it was (for --update-of).
func OpenAppend(f *os.File, opts ...WriterOption) (*Writer, *Reader, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("wim: %w", err)
	}
	r, err := NewReader(f, st.Size())
	if err != nil {
		return nil, nil, err
	}
	w, err := NewAppendWriter(f, r, opts...)
	if err != nil {
		return nil, nil, err
	}
	return w, r, nil
}

// NewAppendWriter is OpenAppend for a caller that has already read f: r
// must be a Reader of f made with f's current size, and f must not have
// changed since. r stays usable to read the file as it was.
func NewAppendWriter(f *os.File, r *Reader, opts ...WriterOption) (*Writer, error) {
	if r.hdr.Flags&flagReadonly != 0 {
		return nil, fmt.Errorf("%w: the WIM is marked read-only", ErrUnsupported)
	}
	if r.hdr.Split() {
		return nil, fmt.Errorf("%w: appending to a part of a split WIM", ErrUnsupported)
	}
	if r.hdr.Pipable {
		return nil, fmt.Errorf("%w: appending to a pipable WIM (optimize rewrites it as a normal WIM first)", ErrUnsupported)
	}
	switch {
	case r.hasSolid():
		return nil, fmt.Errorf("%w: appending to a WIM with solid resources", ErrUnsupported)
	case r.hdr.Version != versionFor(r.hdr.Compression):
		return nil, fmt.Errorf("%w: appending to a WIM of the solid format (version %#x)", ErrUnsupported, r.hdr.Version)
	}
	if r.hdr.Compression != CompressNone && r.hdr.ChunkSize > maxKeptChunkSize {
		return nil, fmt.Errorf("%w: appending to a WIM with %d-byte chunks", ErrUnsupported, r.hdr.ChunkSize)
	}
	keep := []WriterOption{WithCompression(r.hdr.Compression), WithChunkSizeOf(r.hdr, r.hdr.Compression)}
	w, err := newWriter(f, append(keep, opts...))
	if err != nil {
		return nil, err
	}
	if w.comp != r.hdr.Compression {
		return nil, fmt.Errorf("wim: the WIM uses %v compression; cannot append with %v", r.hdr.Compression, w.comp)
	}
	w.noRPFix = false // the new image's absolute link targets are made relative (see WithRPFix)
	w.orig = &original{size: r.size, header: make([]byte, headerSize)}
	if _, err := f.ReadAt(w.orig.header, 0); err != nil {
		return nil, fmt.Errorf("wim: %w", err)
	}
	if err := w.adopt(r); err != nil {
		return nil, w.abortWith(err)
	}
	return w, nil
}

// original is what an append changes in place: the file's length and its
// header. Abort puts both back.
type original struct {
	size   int64
	header []byte
}

// Abort stops the Writer without finishing the WIM and waits for its
// goroutines. For an append it puts the file back as it was (its old
// length and header); a new WIM is left incomplete for the caller to
// remove. Every later call returns an error. Abort after a successful
// Close does nothing.
func (w *Writer) Abort() error {
	if w.closed {
		return nil
	}
	return w.abortWith(nil)
}

// abortWith aborts and returns cause joined with any error of the restore.
func (w *Writer) abortWith(cause error) error {
	_ = w.setErr(errors.New("wim: writer aborted")) // keeps an earlier error
	if w.pipe != nil {
		_ = w.pipe.close()
		w.pipe = nil
	}
	w.closed = true
	if w.orig == nil {
		return cause
	}
	f := w.dst.(*os.File)
	err := f.Truncate(w.orig.size)
	if err == nil {
		_, err = f.WriteAt(w.orig.header, 0)
	}
	if err != nil {
		return errors.Join(cause, fmt.Errorf("wim: restoring the file after a failed append: %w", err))
	}
	return cause
}

// adopt takes over r's header, blobs and images and marks the file as being
// written.
func (w *Writer) adopt(r *Reader) error {
	w.hdr = r.hdr
	w.blobs = make(map[Hash]*wblob, len(r.blobs))
	slab := make([]wblob, 0, len(r.blobs)) // one allocation for all blobs
	for h, b := range r.blobs {
		slab = append(slab, wblob{hash: h, size: b.res.size, res: b.res, refs: b.refCount})
		w.blobs[h] = &slab[len(slab)-1]
		w.sizes[b.res.size]++
	}
	for i := 0; i < r.ImageCount() && i < len(r.metas); i++ {
		m := r.metas[i]
		w.images = append(w.images, image{meta: &wblob{hash: m.hash, size: m.res.size, res: m.res, refs: 1}, info: r.infos[i]})
	}
	if len(w.images) != r.ImageCount() {
		return fmt.Errorf("%w: header says %d images, blob table has %d metadata resources", ErrFormat, r.ImageCount(), len(r.metas))
	}
	if err := w.recount(r); err != nil {
		return err
	}
	w.pos = r.dataEnd()
	if w.pos > r.size {
		// A resource that the file does not hold (which only verify would
		// notice otherwise): appending after it would grow the file to
		// wherever the damaged entry points.
		return fmt.Errorf("%w: a resource ends at offset %d, past the end of the %d-byte file", ErrFormat, w.pos, r.size)
	}
	if err := w.writeHeader(flagWriteInProgress); err != nil {
		return err
	}
	w.start()
	return nil
}

// recount gives every adopted blob that the file counts as unreferenced
// (reference count 0) the number of references its images make to it. The
// blob table keeps only referenced blobs; wimlib leaves a soft-deleted
// image's blobs at 0, and they go, but a WIM from another tool may record
// 0 for a blob an image uses, which wimlib accepts and which must not be
// dropped. Only then are the images' metadata resources read: a WIM whose
// counts are all above 0 costs nothing.
func (w *Writer) recount(r *Reader) error {
	zero := map[Hash]*wblob{}
	for h, b := range w.blobs {
		if b.refs == 0 {
			zero[h] = b
		}
	}
	if len(zero) == 0 {
		return nil
	}
	for i := 1; i <= r.ImageCount(); i++ {
		m, err := r.Metadata(i)
		if err != nil {
			return fmt.Errorf("counting the references of blobs the file counts as unused: %w", err)
		}
		m.Streams(func(s *Stream) {
			if b := zero[s.Hash]; b != nil {
				b.refs++
			}
		})
	}
	return nil
}

// dataEnd is the first offset after every structure of the file; an entry
// whose offset and size overflow counts as ending at the largest offset.
func (r *Reader) dataEnd() int64 {
	end := int64(headerSize)
	add := func(res resHdr) {
		if res.offset > math.MaxInt64-res.storedSize {
			end = math.MaxInt64
			return
		}
		end = max(end, res.offset+res.storedSize)
	}
	for _, res := range []resHdr{r.hdr.blobTable, r.hdr.xml, r.hdr.integrity} {
		add(res)
	}
	for _, b := range r.blobs {
		add(b.res)
	}
	for _, b := range r.metas {
		add(b.res)
	}
	return end
}
