package lzms

import (
	"cmp"
	"fmt"
	"io"
	"math"
)

// DecodeAt reads its chunk through two windows of windowSize bytes, one the
// range decoder moves forward through from the start of the chunk, one the
// bit reader moves back through from the end, so that a large chunk (64
// MiB in ESD files) need not be in memory compressed as well as
// decompressed.
const windowSize = 256 << 10

// windowMargin is more than one item takes from either stream (the range
// decoder at most 10 bytes, the bit reader at most 32): windows move at the
// start of an item with fewer bytes than this left in them, so that within
// an item they look like the whole chunk.
const windowMargin = 256

// windows is where the compressed bytes come from: all of them in memory
// (Decode), or windows on an io.ReaderAt (DecodeAt). d.rd.src and d.br.src
// are the two windows, at fBase and bBase in the chunk.
type windows struct {
	r            io.ReaderAt // nil for a chunk in memory
	off, n       int64       // the chunk in r
	front, back  []byte      // window buffers, kept between chunks
	size         int         // of each buffer; 0 for windowSize (tests set it)
	fBase, bBase int64
	// The windows move when the range decoder's position in its window
	// passes fLimit or the bit reader's falls below bLimit.
	fLimit, bLimit int
}

// whole makes src, in memory, both windows.
func (d *Decoder) whole(src []byte) {
	w := &d.win
	w.r, w.fBase, w.bBase, w.fLimit, w.bLimit = nil, 0, 0, math.MaxInt, math.MinInt
	d.rd.init(src)
	d.br.init(src)
}

// open places the windows at the ends of the n-byte chunk at off in r.
func (d *Decoder) open(r io.ReaderAt, off, n int64) error {
	w := &d.win
	w.r, w.off, w.n = r, off, n
	if w.front == nil {
		size := cmp.Or(w.size, windowSize)
		w.front, w.back = make([]byte, size), make([]byte, size)
	}
	front, err := w.loadFront(0)
	if err != nil {
		return err
	}
	back, err := w.loadBack(n)
	if err != nil {
		return err
	}
	d.rd.init(front)
	d.br.init(back)
	return nil
}

// slide moves the windows that are near their ends, given the range
// decoder's position rpos and the bit reader's bpos in them, and returns the
// positions in the new windows.
func (d *Decoder) slide(rpos, bpos int) (int, int, error) {
	w := &d.win
	if rpos > w.fLimit {
		src, err := w.loadFront(w.fBase + int64(rpos))
		if err != nil {
			return 0, 0, err
		}
		d.rd.src, rpos = src, 0
	}
	if bpos < w.bLimit {
		src, err := w.loadBack(w.bBase + int64(bpos))
		if err != nil {
			return 0, 0, err
		}
		d.br.src, bpos = src, len(src)
	}
	return rpos, bpos, nil
}

// loadFront reads the front window from start in the chunk on.
func (w *windows) loadFront(start int64) ([]byte, error) {
	end := min(w.n, start+int64(len(w.front)))
	src := w.front[:end-start]
	if err := w.read(src, start); err != nil {
		return nil, err
	}
	w.fBase, w.fLimit = start, math.MaxInt
	if end < w.n {
		w.fLimit = len(src) - windowMargin
	}
	return src, nil
}

// loadBack reads the back window, which ends at end in the chunk.
func (w *windows) loadBack(end int64) ([]byte, error) {
	start := max(0, end-int64(len(w.back)))
	src := w.back[:end-start]
	if err := w.read(src, start); err != nil {
		return nil, err
	}
	w.bBase, w.bLimit = start, math.MinInt
	if start > 0 {
		w.bLimit = windowMargin
	}
	return src, nil
}

func (w *windows) read(p []byte, at int64) error {
	if _, err := w.r.ReadAt(p, w.off+at); err != nil {
		return fmt.Errorf("lzms: reading %d compressed bytes at %d: %w", len(p), w.off+at, err)
	}
	return nil
}
