package snapshot

import (
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
	enc *zstd.Encoder
	dec *zstd.Decoder
}

func newZcodec() *zcodec {
	enc, err := zstd.NewWriter(nil, zstdOptions()...)
	if err != nil {
		panic(err) // only invalid options fail
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxZstdObject),
		zstd.WithDecoderMaxWindow(64<<20))
	if err != nil {
		panic(err)
	}
	return &zcodec{enc: enc, dec: dec}
}

// zstdOptions are compress's and writer's settings. A 1 MiB window: the
// objects are mostly records of random ids, which gain nothing from a
// longer one, and the encoder's history costs its size in memory for the
// whole run.
func zstdOptions() []zstd.EOption {
	return []zstd.EOption{zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithWindowSize(1 << 20)}
}

func (z *zcodec) compress(b []byte) []byte { return z.enc.EncodeAll(b, nil) }

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

// expand decompresses a zstd object named what (for the error).
func (z *zcodec) expand(b []byte, what string) ([]byte, error) {
	out, err := z.dec.DecodeAll(b, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: zstd: %w", ErrRepoFormat, what, err)
	}
	return out, nil
}
