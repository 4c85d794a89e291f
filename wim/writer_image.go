package wim

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// AddImage writes m as a new image described by info. The counts, sizes and
// modification time in info are computed here (CreationTime defaults to
// now); Index is assigned. Every stream m references must have been added
// with AddStream or exist in the appended file. m's children are sorted in
// place. A name another image of w has is refused, as wimlib refuses it;
// CopyImage, which keeps a name as it was, is the one way to a second one.
func (w *Writer) AddImage(m *Metadata, info ImageInfo) error {
	for _, im := range w.images {
		if info.Name != "" && im.info.Name == info.Name {
			return fmt.Errorf("wim: an image named %q already exists", info.Name)
		}
	}
	return w.addImage(m, info)
}

// addImage is AddImage without the check that the name is free.
func (w *Writer) addImage(m *Metadata, info ImageInfo) error {
	if err := w.getErr(); err != nil {
		return err
	}
	if err := w.countImage(m, &info); err != nil {
		return err
	}
	enc, err := newMetaEncoder(m)
	if err != nil {
		return w.setErr(err)
	}
	res := w.newPendingRes(enc.size)
	res.meta = true
	meta, err := w.addResource(enc, res)
	if err != nil {
		return w.setErr(err)
	}
	meta.refs = 1
	w.addRefs(m.Root)
	info.Index = len(w.images) + 1
	w.images = append(w.images, image{meta: meta, info: info})
	return nil
}

// countImage fills the XML counts and checks every stream reference.
func (w *Writer) countImage(m *Metadata, info *ImageInfo) error {
	now := FiletimeFromTime(w.now())
	if info.CreationTime == 0 {
		info.CreationTime = now
	}
	info.ModificationTime = now
	info.DirCount, info.FileCount, info.TotalBytes, info.HardLinkBytes = 0, 0, 0, 0
	c := imageCounter{w: w, info: info, seenLink: map[uint64]bool{}}
	return c.count(m.Root)
}

// imageCounter walks a tree for countImage without building paths: the
// path of an entry is joined from the stack of names only for an error.
type imageCounter struct {
	w        *Writer
	info     *ImageInfo
	seenLink map[uint64]bool
	names    []string // names from the root's child down to the current entry
	streams  []Stream // scratch
}

func (c *imageCounter) count(e *Entry) error {
	if e.IsDir() {
		c.info.DirCount++
	} else {
		c.info.FileCount++
	}
	var bytes uint64
	c.streams = e.appendStreams(c.streams[:0])
	for _, s := range c.streams {
		if s.Hash.IsZero() {
			continue
		}
		b := c.w.blobs[s.Hash]
		if b == nil {
			return fmt.Errorf("%w: %s references stream %x that was never added", ErrNotFound, "/"+strings.Join(c.names, "/"), s.Hash)
		}
		bytes += uint64(b.size)
	}
	c.info.TotalBytes += bytes
	if e.LinkID != 0 && !e.IsReparse() {
		if c.seenLink[e.LinkID] {
			c.info.HardLinkBytes += bytes
		}
		c.seenLink[e.LinkID] = true
	}
	for _, ch := range e.Children {
		c.names = append(c.names, ch.Name)
		if err := c.count(ch); err != nil {
			return err
		}
		c.names = c.names[:len(c.names)-1]
	}
	return nil
}

// addRefs counts every name's references to its streams.
func (w *Writer) addRefs(e *Entry) {
	w.addRefsTo(e, nil)
}

func (w *Writer) addRefsTo(e *Entry, scratch []Stream) []Stream {
	scratch = e.appendStreams(scratch[:0])
	for _, s := range scratch {
		if b := w.blobs[s.Hash]; b != nil && !s.Hash.IsZero() {
			b.refs++
		}
	}
	for _, c := range e.Children {
		scratch = w.addRefsTo(c, scratch)
	}
	return scratch
}

// Close finishes the WIM: it waits for compression, then writes the blob
// table, the XML, the integrity table if asked, and the final header. The
// destination is truncated to the end of the WIM when it can be (an
// *os.File can). Close does not close the destination. When Close fails on
// an appended file, the file is put back as Abort does.
func (w *Writer) Close() error { return w.CloseContext(context.Background()) }

// CloseContext is Close, given up when ctx is done while it hashes the file
// for the integrity table (a read of the whole WIM): it then fails with
// ctx's error and aborts as a failed Close does.
func (w *Writer) CloseContext(ctx context.Context) error {
	if w.closed {
		return w.getErr()
	}
	if err := w.pipe.close(); err != nil {
		_ = w.setErr(err) // read back below with getErr
	}
	w.pipe = nil
	err := w.getErr()
	if err == nil && len(w.images) == 0 && !w.empty {
		err = errors.New("wim: no image was added")
	}
	if err == nil {
		err = w.writeTables(ctx)
	}
	if err != nil {
		return w.abortWith(w.setErr(err))
	}
	w.closed, w.orig = true, nil
	return nil
}

// writeTables writes everything after the resources and the final header.
func (w *Writer) writeTables(ctx context.Context) error {
	table := w.blobTable()
	w.hdr.blobTable = resHdr{storedSize: int64(len(table)), flags: resMetadata, offset: w.pos, size: int64(len(table))}
	if err := w.write(table); err != nil {
		return err
	}
	infos := make([]ImageInfo, len(w.images))
	for i, im := range w.images {
		infos[i] = im.info
	}
	x := marshalXML(infos, w.pos, w.comp == CompressXPRESS && w.chunkSize() == 4096)
	w.hdr.xml = resHdr{storedSize: int64(len(x)), flags: resMetadata, offset: w.pos, size: int64(len(x))}
	if err := w.write(x); err != nil {
		return err
	}
	if err := w.out.Flush(); err != nil {
		return fmt.Errorf("wim: write: %w", err)
	}
	if w.integrity {
		if err := w.writeIntegrity(ctx); err != nil {
			return err
		}
	}
	w.hdr.ImageCount = uint32(len(w.images))
	w.setBoot()
	if err := w.syncBeforeHeader(); err != nil {
		return err
	}
	if err := w.writeHeader(0); err != nil {
		return err
	}
	if t, ok := w.dst.(interface{ Truncate(int64) error }); ok {
		if err := t.Truncate(w.pos); err != nil {
			return fmt.Errorf("wim: truncate: %w", err)
		}
	}
	return nil
}

// syncBeforeHeader makes an append's new data and tables durable before
// the header that points at them is written, so that a crash leaves either
// the old WIM or the new one, never a header pointing at lost tables. A new
// WIM needs no such ordering: it is written under a temporary name and
// renamed by its caller.
func (w *Writer) syncBeforeHeader() error {
	s, ok := w.dst.(interface{ Sync() error })
	if w.orig == nil || !ok {
		return nil
	}
	if err := s.Sync(); err != nil {
		return fmt.Errorf("wim: sync: %w", err)
	}
	return nil
}

// setBoot keeps the boot metadata header equal to the boot image's entry.
func (w *Writer) setBoot() {
	w.hdr.boot = resHdr{}
	if i := int(w.hdr.BootIndex); i >= 1 && i <= len(w.images) {
		w.hdr.boot = w.images[i-1].meta.res
	} else {
		w.hdr.BootIndex = 0
	}
}

// blobTable encodes the metadata entries in image order, then every
// referenced blob in file order.
func (w *Writer) blobTable() []byte {
	var b []byte
	for _, im := range w.images {
		b = appendBlobEntry(b, im.meta)
	}
	blobs := make([]*wblob, 0, len(w.blobs))
	for _, bl := range w.blobs {
		if bl.refs > 0 {
			blobs = append(blobs, bl)
		}
	}
	slices.SortFunc(blobs, func(x, y *wblob) int { return cmp.Compare(x.res.offset, y.res.offset) })
	for _, bl := range blobs {
		b = appendBlobEntry(b, bl)
	}
	return b
}

func appendBlobEntry(b []byte, bl *wblob) []byte {
	var e [blobEntrySize]byte
	bl.res.put(e[:])
	binary.LittleEndian.PutUint16(e[24:], 1)
	binary.LittleEndian.PutUint32(e[26:], bl.refs)
	copy(e[30:], bl.hash[:])
	return append(b, e[:]...)
}

// writeIntegrity hashes the file from the header to the end of the blob
// table and appends the table.
func (w *Writer) writeIntegrity(ctx context.Context) error {
	start, end := integrityRange(w.hdr.blobTable)
	var progress func(int64)
	if fn := w.integrityProgress; fn != nil {
		var done int64
		fn(0, end-start)
		progress = func(n int64) {
			done += n
			fn(done, end-start)
		}
	}
	hashes, err := hashRange(ctx, w.dst.(io.ReaderAt), start, end, integrityChunk, progress)
	if err != nil {
		return fmt.Errorf("wim: integrity table: %w", err)
	}
	t := marshalIntegrity(hashes, integrityChunk)
	w.hdr.integrity = resHdr{storedSize: int64(len(t)), offset: w.pos, size: int64(len(t))}
	if _, err := w.dst.Write(t); err != nil {
		return fmt.Errorf("wim: write: %w", err)
	}
	w.pos += int64(len(t))
	return nil
}
