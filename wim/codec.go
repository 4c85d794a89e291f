package wim

import (
	"fmt"

	"github.com/wimsnap/wimsnap/wim/xpress"
)

// chunkDecoder expands one compressed chunk; see the codec packages.
type chunkDecoder interface {
	Decode(dst, src []byte, size int) ([]byte, error)
}

// chunkEncoder compresses one chunk; the result may not be smaller.
type chunkEncoder interface {
	Encode(dst, src []byte) []byte
}

// newDecoder returns a decoder for codec c.
func newDecoder(c Compression) (chunkDecoder, error) {
	switch c {
	case CompressXPRESS:
		return xpress.NewDecoder(), nil
	default:
		return nil, fmt.Errorf("%w: compression %v (LZX and LZMS are not supported yet)", ErrUnsupported, c)
	}
}

// newEncoder returns an encoder for codec c.
func newEncoder(c Compression) (chunkEncoder, error) {
	switch c {
	case CompressXPRESS:
		return xpress.NewEncoder(), nil
	default:
		return nil, fmt.Errorf("%w: writing compression %v (only none and xpress are supported yet)", ErrUnsupported, c)
	}
}
