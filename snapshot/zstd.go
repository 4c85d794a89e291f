package snapshot

import (
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// maxZstdObject bounds what one zstd object of the repository (pack
// trailer, index object, manifest) may expand to, so hostile input cannot
// make a reader allocate without limit.
const maxZstdObject = 512 << 20

// zcodec compresses and expands the repository's zstd objects. Safe for
// concurrent use.
type zcodec struct {
	enc   *zstd.Encoder
	small *zstd.Encoder // for objects under smallObject bytes
	dec   *zstd.Decoder
}

// smallObject is the size under which compress uses the fastest level: its
// match table is a fifth of the default level's, and a manifest (a few
// hundred bytes) touches a page of the table per position it hashes. On an
// unchanged re-snapshot of the Debian tree of make bench that was 430 page
// faults and 1 ms of CPU fewer (perf stat, 2 x 25 alternating runs), for a
// manifest a few bytes larger.
const smallObject = 16 << 10

func newZcodec() *zcodec {
	enc, err := zstd.NewWriter(nil, zstdOptions()...)
	if err != nil {
		panic(err) // only invalid options fail
	}
	small, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithWindowSize(1<<20))
	if err != nil {
		panic(err)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxZstdObject),
		zstd.WithDecoderMaxWindow(64<<20))
	if err != nil {
		panic(err)
	}
	return &zcodec{enc: enc, small: small, dec: dec}
}

// zstdOptions are compress's and writer's settings. A 1 MiB window: the
// objects are mostly records of random ids, which gain nothing from a
// longer one, and the encoder's history costs its size in memory for the
// whole run.
func zstdOptions() []zstd.EOption {
	return []zstd.EOption{zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithWindowSize(1 << 20)}
}

// compress returns b compressed as one zstd frame.
func (z *zcodec) compress(b []byte) []byte {
	if len(b) < smallObject {
		return z.small.EncodeAll(b, nil)
	}
	return z.enc.EncodeAll(b, nil)
}

// writer returns a streaming compressor into w with compress's settings,
// for an object of size bytes; its Close ends the object and fails unless
// size bytes were written. The size goes into the frame, as compress puts
// it, so that expand allocates the object once rather than growing it.
func (z *zcodec) writer(w io.Writer, size int64) *zstd.Encoder {
	return newZstdWriter(w, size, zstdOptions())
}

func newZstdWriter(w io.Writer, size int64, opts []zstd.EOption) *zstd.Encoder {
	enc, err := zstd.NewWriter(nil, opts...)
	if err != nil {
		panic(err) // only invalid options fail
	}
	enc.ResetContentSize(w, size)
	return enc
}

// expand decompresses a zstd object named what (for the error), which may
// expand to at most limit bytes (at most maxZstdObject): a few hostile
// bytes can claim gigabytes, which a manifest or pack trailer never needs.
// An object that declares its size (as writer and compress write them) is
// refused before decoding when it declares too much; one that does not is
// decoded as a stream and cut at the limit.
func (z *zcodec) expand(b []byte, what string, limit int64) ([]byte, error) {
	limit = min(limit, maxZstdObject)
	var h zstd.Header
	err := h.Decode(b)
	if err == nil && h.HasFCS && h.FrameContentSize > uint64(limit) {
		return nil, fmt.Errorf("%w: %s: declares %d bytes expanded, more than the %d it may hold", ErrRepoFormat, what, h.FrameContentSize, limit)
	}
	if err == nil && h.HasFCS && singleFrame(b, &h) {
		out, err := z.dec.DecodeAll(b, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: zstd: %w", ErrRepoFormat, what, err)
		}
		if int64(len(out)) > limit {
			return nil, fmt.Errorf("%w: %s: expands past %d bytes", ErrRepoFormat, what, limit)
		}
		return out, nil
	}
	// Without a declared size the object is expanded twice: once to count
	// its bytes, into nothing, then into a buffer of that size. Growing a
	// buffer as it decoded took twice the limit and more: a 19 KB object
	// expanding past it cost 1.3 GB at every command.
	n, err := z.stream(b, io.Discard, limit+1)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %s: zstd: %w", ErrRepoFormat, what, err)
	case n > limit:
		return nil, fmt.Errorf("%w: %s: expands past %d bytes", ErrRepoFormat, what, limit)
	}
	out := &fixedWriter{b: make([]byte, 0, n)}
	if _, err := z.stream(b, out, n); err != nil {
		return nil, fmt.Errorf("%w: %s: zstd: %w", ErrRepoFormat, what, err)
	}
	return out.b, nil
}

// fixedWriter appends to b within its capacity, never growing it (a
// bytes.Buffer grows a full buffer before it learns that nothing follows).
type fixedWriter struct{ b []byte }

func (w *fixedWriter) Write(p []byte) (int, error) {
	if len(p) > cap(w.b)-len(w.b) {
		return 0, io.ErrShortWrite
	}
	w.b = append(w.b, p...)
	return len(p), nil
}

// stream expands b, frames of any kind, into w, at most limit bytes, and
// returns how many it wrote.
func (z *zcodec) stream(b []byte, w io.Writer, limit int64) (int64, error) {
	d, err := zstd.NewReader(bytes.NewReader(b), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxZstdObject),
		zstd.WithDecoderMaxWindow(64<<20))
	if err != nil {
		return 0, err
	}
	defer d.Close()
	return io.Copy(w, io.LimitReader(d, limit))
}

// singleFrame reports whether b, whose first frame header is h, holds that
// frame alone: DecodeAll would decode further frames past any size check.
func singleFrame(b []byte, h *zstd.Header) bool {
	// Blocks follow the frame header: 3-byte headers (last bit, type,
	// size), a 4-byte checksum after the last when the frame has one.
	p := h.HeaderSize
	for p+3 <= len(b) {
		bh := uint32(b[p]) | uint32(b[p+1])<<8 | uint32(b[p+2])<<16
		last, typ, size := bh&1 == 1, (bh>>1)&3, int(bh>>3)
		p += 3
		switch typ {
		case 1: // RLE: one byte stored
			p++
		case 3: // reserved
			return false
		default:
			p += size
		}
		if last {
			if h.HasCheckSum {
				p += 4
			}
			return p == len(b)
		}
	}
	return false
}
