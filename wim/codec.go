package wim

import (
	"fmt"
	"io"

	"github.com/wimsnap/wimsnap/wim/lzms"
	"github.com/wimsnap/wimsnap/wim/lzx"
	"github.com/wimsnap/wimsnap/wim/xpress"
)

// chunkDecoder expands one compressed chunk; see the codec packages.
type chunkDecoder interface {
	Decode(dst, src []byte, size int) ([]byte, error)
}

// chunkDecoderAt is a chunkDecoder that can read its compressed chunk, the
// stored bytes at off in r, as it goes rather than all at once.
type chunkDecoderAt interface {
	DecodeAt(dst []byte, r io.ReaderAt, off, stored int64, size int) ([]byte, error)
}

// chunkEncoder compresses one chunk; the result may not be smaller.
type chunkEncoder interface {
	Encode(dst, src []byte) []byte
}

// newDecoder returns a decoder for codec c and chunks of chunkSize bytes.
func newDecoder(c Compression, chunkSize int) (chunkDecoder, error) {
	switch c {
	case CompressXPRESS:
		return xpress.NewDecoder(), nil
	case CompressLZX:
		return lzx.NewDecoder(chunkSize)
	case CompressLZMS:
		return lzms.NewDecoder(), nil
	default:
		return nil, fmt.Errorf("%w: compression %v", ErrUnsupported, c)
	}
}

// newEncoder returns an encoder for codec c, chunks of chunkSize bytes and
// the compression level (see WithCompressionLevel; only XPRESS uses it).
func newEncoder(c Compression, chunkSize, level int) (chunkEncoder, error) {
	switch c {
	case CompressXPRESS:
		return xpress.NewEncoderLevel(level), nil
	case CompressLZX:
		return lzx.NewEncoder(chunkSize)
	case CompressLZMS:
		return lzms.NewEncoder(), nil
	default:
		return nil, fmt.Errorf("%w: writing compression %v (none, xpress, lzx and lzms are supported)", ErrUnsupported, c)
	}
}
