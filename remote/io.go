package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// copyExact copies exactly size bytes from r to w, checking ctx before every
// read. It fails when r ends early (wrapping io.ErrUnexpectedEOF), when r
// has more than size bytes (it reads one byte past size to find out), when r
// or w fails (wrapping their error) and when ctx is done.
func copyExact(ctx context.Context, w io.Writer, r io.Reader, size int64) error {
	if size < 0 {
		return fmt.Errorf("negative size %d", size)
	}
	cr := &ctxReader{ctx: ctx, r: r}
	n, err := io.CopyN(w, cr, size)
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("reader gave %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)
	}
	if err != nil {
		return err
	}
	var probe [1]byte
	switch _, err := io.ReadFull(cr, probe[:]); {
	case err == nil:
		return fmt.Errorf("reader gave more than %d bytes", size)
	case !errors.Is(err, io.EOF):
		return err
	}
	return nil
}

// ctxReader checks its context before every read of r.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// checkRange validates a Get range against an object of size bytes and
// returns the number of bytes to read.
func checkRange(size, off, length int64) (int64, error) {
	if off < 0 || off > size {
		return 0, fmt.Errorf("offset %d outside object of %d bytes: %w", off, size, ErrRange)
	}
	if length < 0 {
		return size - off, nil
	}
	if length > size-off {
		return 0, fmt.Errorf("%d bytes at offset %d outside object of %d bytes: %w", length, off, size, ErrRange)
	}
	return length, nil
}

// rangeReader yields exactly left bytes of r, then io.EOF; if r ends early
// it returns io.ErrUnexpectedEOF. It checks ctx before every read and closes
// c on Close.
type rangeReader struct {
	ctx  context.Context
	r    io.Reader
	c    io.Closer
	left int64
}

func (rr *rangeReader) Read(p []byte) (int, error) {
	if rr.left <= 0 {
		return 0, io.EOF
	}
	if err := rr.ctx.Err(); err != nil {
		return 0, err
	}
	if int64(len(p)) > rr.left {
		p = p[:rr.left]
	}
	n, err := rr.r.Read(p)
	rr.left -= int64(n)
	switch {
	case rr.left <= 0:
		return n, nil // io.EOF on the next call
	case errors.Is(err, io.EOF):
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

func (rr *rangeReader) Close() error { return rr.c.Close() }
