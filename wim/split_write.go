package wim

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
)

// WriteSplit writes the WIM r as a split WIM whose parts hold at most
// partSize bytes each, as wimlib-imagex split and DISM's /Split-Image do:
// a part that holds one resource larger than that is larger. Resources are
// copied as they are, neither recompressed nor checked (Verify the parts);
// part 1 holds the image metadata; every part has r's GUID, image count
// and XML data, no boot image (as wimlib's parts), and an integrity table
// when integrity is set. create makes the file of part k of n; WriteSplit
// writes, syncs and leaves it open, for the caller to close and name. It
// returns the number of parts. progress, when not nil, receives the bytes
// copied so far. r must not be split, pipable, nor hold solid resources.
func WriteSplit(ctx context.Context, r *Reader, partSize int64, integrity bool,
	create func(k, n int) (*os.File, error), progress func(done int64), opts ...SplitOption) (int, error) {
	var cfg splitConfig
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return 0, err
		}
	}
	if r.hdr.Split() {
		return 0, fmt.Errorf("%w: splitting a WIM that is split already", ErrUnsupported)
	}
	if r.hasSolid() {
		return 0, fmt.Errorf("%w: splitting a WIM with solid resources", ErrUnsupported)
	}
	if r.hdr.Pipable { // its resources are laid out otherwise, and would be copied as they are
		return 0, fmt.Errorf("%w: splitting a pipable WIM (optimize rewrites it as a normal WIM first)", ErrUnsupported)
	}
	if partSize <= 0 {
		return 0, fmt.Errorf("wim: part size %d", partSize)
	}
	xml, err := r.rawResource("XML data", r.hdr.xml, maxXMLSize)
	if err != nil {
		return 0, err
	}
	plan := r.planSplit(partSize, int64(len(xml)), integrity)
	var done int64
	for k, blobs := range plan {
		f, err := create(k+1, len(plan))
		if err != nil {
			return 0, err
		}
		sw := &splitWriter{ctx: ctx, r: r, f: f, part: k + 1, parts: len(plan), done: &done, progress: progress,
			integrityProgress: cfg.integrityProgress}
		if err := sw.write(blobs, xml, integrity); err != nil {
			return 0, fmt.Errorf("wim: part %d: %w", k+1, err)
		}
	}
	return len(plan), nil
}

// planSplit assigns r's resources to parts: the metadata to part 1, then
// the blobs in file order, each to the current part while it fits.
func (r *Reader) planSplit(partSize, xmlSize int64, integrity bool) [][]*blob {
	blobs := make([]*blob, 0, len(r.blobs))
	for _, b := range r.blobs {
		blobs = append(blobs, b)
	}
	slices.SortFunc(blobs, compareBlobs)
	// What a part holds besides its resources: header, XML, blob table
	// entries and (about) an integrity table.
	fixed := headerSize + xmlSize
	perEntry := int64(blobEntrySize)
	if integrity {
		fixed += 12
		perEntry += 20 // a hash per entry errs on the large side for small resources
	}
	parts := [][]*blob{slices.Clone(r.metas)}
	var size int64
	for _, b := range r.metas {
		size += b.res.storedSize + perEntry
	}
	for _, b := range blobs {
		cost := b.res.storedSize + perEntry
		if last := len(parts) - 1; len(parts[last]) > 0 && fixed+size+cost > partSize {
			parts = append(parts, nil)
			size = 0
		}
		parts[len(parts)-1] = append(parts[len(parts)-1], b)
		size += cost
	}
	return parts
}

// SplitOption configures WriteSplit; it fails on a bad value.
type SplitOption func(*splitConfig) error

// splitConfig is what the SplitOptions set.
type splitConfig struct {
	integrityProgress func(part int, done, total int64)
}

// WithSplitIntegrityProgress sets a function that WriteSplit calls while
// it hashes part k (from 1) for its integrity table (a read of the whole
// part): with none done first, then after each chunk, with the bytes
// hashed so far and the total, from WriteSplit's goroutine. The default
// is none; it has no effect unless WriteSplit writes integrity tables.
func WithSplitIntegrityProgress(fn func(part int, done, total int64)) SplitOption {
	return func(c *splitConfig) error { c.integrityProgress = fn; return nil }
}

// hashProgress returns hashRange's progress function for hashing total
// bytes of the part for its integrity table, nil when nobody asked.
func (w *splitWriter) hashProgress(total int64) func(int64) {
	fn := w.integrityProgress
	if fn == nil {
		return nil
	}
	var done int64
	fn(w.part, 0, total)
	return func(n int64) {
		done += n
		fn(w.part, done, total)
	}
}

// splitWriter writes one part of a split WIM.
type splitWriter struct {
	ctx         context.Context
	r           *Reader
	f           *os.File
	part, parts int
	pos         int64
	done        *int64
	progress    func(int64)
	// integrityProgress is WithSplitIntegrityProgress's function, or nil.
	integrityProgress func(part int, done, total int64)
}

// write writes the part holding blobs: header, resources, blob table, XML,
// integrity table, then the header again, filled in.
func (w *splitWriter) write(blobs []*blob, xml []byte, integrity bool) error {
	h := w.r.hdr
	h.Part, h.Parts = uint16(w.part), uint16(w.parts)
	h.integrity = resHdr{}
	// As wimlib-imagex split writes its parts: spanned and without a boot
	// image, unless there is but one (a whole WIM).
	if w.parts > 1 {
		h.Flags |= flagSpanned
		h.boot, h.BootIndex = resHdr{}, 0
	}
	if err := w.put(make([]byte, headerSize)); err != nil {
		return err
	}
	table := make([]byte, 0, len(blobs)*blobEntrySize)
	for _, b := range blobs {
		res, err := w.copyResource(b)
		if err != nil {
			return err
		}
		if h.BootIndex != 0 && b.res.offset == w.r.hdr.boot.offset { // the boot image's metadata, in a lone part
			h.boot = res
		}
		var e [blobEntrySize]byte
		res.put(e[:])
		binary.LittleEndian.PutUint16(e[24:], uint16(w.part))
		binary.LittleEndian.PutUint32(e[26:], b.refCount)
		copy(e[30:], b.hash[:])
		table = append(table, e[:]...)
	}
	h.blobTable = w.plain(len(table))
	if err := w.put(table); err != nil {
		return err
	}
	h.xml = w.plain(len(xml))
	if err := w.put(xml); err != nil {
		return err
	}
	if integrity {
		start, end := integrityRange(h.blobTable)
		hashes, err := hashRange(w.ctx, w.f, start, end, integrityChunk, w.hashProgress(end-start))
		if err != nil {
			return fmt.Errorf("integrity table: %w", err)
		}
		t := marshalIntegrity(hashes, integrityChunk)
		h.integrity = w.plain(len(t))
		if err := w.put(t); err != nil {
			return err
		}
	}
	if err := w.f.Sync(); err != nil {
		return err
	}
	if _, err := w.f.WriteAt(h.marshal(), 0); err != nil {
		return err
	}
	return w.f.Sync()
}

// plain returns the header of an uncompressed resource of n bytes at the
// current position.
func (w *splitWriter) plain(n int) resHdr {
	return resHdr{storedSize: int64(n), offset: w.pos, size: int64(n)}
}

func (w *splitWriter) put(b []byte) error {
	n, err := w.f.Write(b)
	w.pos += int64(n)
	return err
}

// copyResource copies b's resource as stored and returns its header in
// the part.
func (w *splitWriter) copyResource(b *blob) (resHdr, error) {
	if err := w.ctx.Err(); err != nil {
		return resHdr{}, err
	}
	src := b.res
	if src.offset < 0 || src.storedSize > w.r.size-src.offset {
		return resHdr{}, fmt.Errorf("%w: blob %x: resource at offset %d of %d bytes lies outside the %d-byte file",
			ErrFormat, b.hash, src.offset, src.storedSize, w.r.size)
	}
	n, err := io.Copy(w.f, io.NewSectionReader(w.r.ra, src.offset, src.storedSize))
	res := src
	res.offset = w.pos
	w.pos += n
	*w.done += n
	if w.progress != nil {
		w.progress(*w.done)
	}
	if err == nil && n != src.storedSize {
		err = fmt.Errorf("%w: blob %x: resource at offset %d ends early", ErrFormat, b.hash, src.offset)
	}
	return res, err
}
