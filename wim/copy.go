package wim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
)

// errStopVisit ends a Metadata.Visit that found what it looked for.
var errStopVisit = errors.New("wim: visit stopped")

// CopyImage adds image i (1-based) of r to w: every stream it references
// that w lacks is read from r (checked against its SHA-1) and compressed
// with w's codec, then its metadata is added with its XML fields (name,
// description, flags, creator, version, creation time; the counts and the
// modification time are w's). progress, when not nil, receives the number
// of stream bytes copied as they go. This is how a WIM is recompressed in
// another codec, or images are exported from one WIM to another. A
// cancelled ctx stops the copy within one read, with ctx's error; w is then
// to be aborted. The name is kept even when an image of w already has it:
// a WIM that holds two images of one name (wimlib and DISM read them, and
// wimlib's optimize and export keep them) is copied as it is.
func CopyImage(ctx context.Context, w *Writer, r *Reader, i int, progress func(n int64)) error {
	return CopyImageWith(ctx, w, r, i, CopyOptions{Progress: progress})
}

// CopyOptions says how CopyImageWith copies an image. The zero value
// copies as CopyImage does.
type CopyOptions struct {
	// Info, when not nil, replaces the image's XML fields: how an image is
	// renamed or described anew while its WIM is rewritten. Its Index,
	// counts, sizes and modification time are ignored (w computes them),
	// and its name is not checked against w's other images.
	Info *ImageInfo
	// Raw copies the stored chunks of each stream as they are, neither
	// decompressed, recompressed nor checked against the SHA-1 (zip's
	// Copy; how wimlib rebuilds a WIM), when the stream is in a non-solid
	// resource of r's own file, r is neither split nor pipable, and r's
	// codec and chunk size are w's; a stream stored uncompressed stays so,
	// its SHA-1 checked as it is copied. Other streams are recompressed as
	// without Raw.
	Raw bool
	// KeepModified keeps the image's modification time, which is
	// otherwise the time of the copy: a WIM rebuilt to delete or rename
	// images, as wimlib rebuilds it, leaves the others as they were.
	KeepModified bool
	// Progress, when not nil, receives the number of stream bytes copied
	// (expanded) as they go.
	Progress func(n int64)
}

// CopyImageWith is CopyImage with options. The streams are copied in the
// order their bytes lie in r (compareBlobs), not the tree's: in a solid
// resource, the tree's order decompressed a 64 MiB chunk again for almost
// every stream, and the copy of a large ESD never ended.
func CopyImageWith(ctx context.Context, w *Writer, r *Reader, i int, opts CopyOptions) error {
	m, err := r.Metadata(i)
	if err != nil {
		return err
	}
	blobs, err := imageBlobs(w, r, m)
	if err != nil {
		return fmt.Errorf("image %d: %w", i, err)
	}
	slices.SortFunc(blobs, compareBlobs)
	for _, b := range blobs {
		if err := copyStream(ctx, w, r, b.hash, opts); err != nil {
			return fmt.Errorf("image %d: %s: %w", i, pathOf(m, b.hash), err)
		}
	}
	info := r.Image(i)
	if opts.Info != nil {
		info = *opts.Info
	}
	info.Index = 0
	if err := w.addImage(m, info); err != nil {
		return err
	}
	if opts.KeepModified {
		w.images[len(w.images)-1].info.ModificationTime = info.ModificationTime
	}
	return nil
}

// imageBlobs returns the blobs of r that the streams of image m use and w
// lacks, each once; a stream r does not hold is an error naming its path.
func imageBlobs(w *Writer, r *Reader, m *Metadata) ([]*blob, error) {
	var blobs []*blob
	seen := make(map[Hash]bool)
	var scratch []Stream
	err := m.Visit(func(e *Entry, path func() string) error {
		scratch = e.appendStreams(scratch[:0])
		for _, s := range scratch {
			if s.Hash.IsZero() || seen[s.Hash] || w.HasStream(s.Hash) {
				continue
			}
			b := r.blobs[s.Hash]
			if b == nil {
				return fmt.Errorf("%s: %w: %x", path(), ErrNotFound, s.Hash)
			}
			seen[s.Hash] = true
			blobs = append(blobs, b)
		}
		return nil
	})
	return blobs, err
}

// pathOf returns the path of the first entry of m with a stream h, for
// messages.
func pathOf(m *Metadata, h Hash) string {
	found := ""
	var scratch []Stream
	_ = m.Visit(func(e *Entry, path func() string) error {
		scratch = e.appendStreams(scratch[:0])
		for _, s := range scratch {
			if s.Hash == h {
				found = path()
				return errStopVisit
			}
		}
		return nil
	})
	return found
}

// copyStream copies the blob with hash h from r to w.
func copyStream(ctx context.Context, w *Writer, r *Reader, h Hash, opts CopyOptions) error {
	b := r.blobs[h]
	if b == nil {
		return fmt.Errorf("%w: %x", ErrNotFound, h)
	}
	if opts.Raw && r.rawCopies(b, w) {
		return copyRaw(ctx, w, r, b, opts.Progress)
	}
	s, err := r.OpenStream(h)
	if err != nil {
		return err
	}
	defer closeStream(s)
	got, err := w.AddStream(&progressReader{ctx: ctx, r: s, fn: opts.Progress}, b.res.size)
	if err != nil {
		return err
	}
	if got != h {
		return fmt.Errorf("%w: stream %x read back as %x", ErrChecksum, h, got)
	}
	return nil
}

// progressReader reports the bytes read through it to fn (when not nil)
// and fails once ctx is done.
type progressReader struct {
	ctx context.Context
	r   io.Reader
	fn  func(n int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.r.Read(b)
	if n > 0 && p.fn != nil {
		p.fn(int64(n))
	}
	return n, err
}

// WithBootIndex sets the header's boot index: the 1-based image that boots
// (0, the default, for none). An index beyond the images written is dropped
// when the WIM is closed.
func WithBootIndex(i int) WriterOption {
	return func(w *Writer) error {
		if i < 0 {
			return fmt.Errorf("wim: boot index %d", i)
		}
		w.boot = &i
		return nil
	}
}
