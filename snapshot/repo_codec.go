package snapshot

import (
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/wimsnap/wimsnap/index"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/lzms"
	"github.com/wimsnap/wimsnap/wim/lzx"
	"github.com/wimsnap/wimsnap/wim/xpress"
)

// A chunk's codec byte is the wim.Compression number of its stored bytes:
// 0 none (stored raw), 1 XPRESS, 2 LZX, 3 LZMS. A chunk whose stored
// length equals its raw length is raw whatever the byte says.

type chunkEncoder interface{ Encode(dst, src []byte) []byte }

type chunkDecoder interface {
	Decode(dst, src []byte, size int) ([]byte, error)
}

// newChunkEncoder returns an encoder for c at the repository's level
// (RepoConfig.Level), nil for none. XPRESS chunks get the fast encoder
// (xpress.NewFastEncoder) unless the level asks for more, as
// xpress.NewEncoderLevel maps it: a nightly snapshot's speed counts more
// than a few percent of its size. A first snapshot of the Debian tree of
// make bench takes a sixth less time with it than at level 50, and the
// repository grows by 2.6%, to 1.04 of restic's. LZX ignores the level.
func newChunkEncoder(c wim.Compression, level int) chunkEncoder {
	switch c {
	case wim.CompressXPRESS:
		if level <= 0 {
			return xpress.NewFastEncoder()
		}
		return xpress.NewEncoderLevel(level)
	case wim.CompressLZX:
		enc, err := lzx.NewEncoder(RepoChunkSize)
		if err != nil {
			panic(err) // 32 KiB is a valid LZX chunk size
		}
		return enc
	default:
		return nil
	}
}

// decoders pools chunk decoders per codec. Safe for concurrent use.
type decoders struct{ pools [4]sync.Pool }

func (d *decoders) get(codec uint8) (chunkDecoder, error) {
	if int(codec) >= len(d.pools) || codec == 0 {
		return nil, fmt.Errorf("%w: chunk codec %d", ErrRepoFormat, codec)
	}
	if dec, ok := d.pools[codec].Get().(chunkDecoder); ok {
		return dec, nil
	}
	switch wim.Compression(codec) {
	case wim.CompressXPRESS:
		return xpress.NewDecoder(), nil
	case wim.CompressLZX:
		return lzx.NewDecoder(RepoChunkSize)
	default:
		return lzms.NewDecoder(), nil
	}
}

func (d *decoders) put(codec uint8, dec chunkDecoder) { d.pools[codec].Put(dec) }

// expandChunk returns the raw bytes of a stored chunk.
func (d *decoders) expandChunk(dst, stored []byte, raw int, codec uint8) ([]byte, error) {
	if len(stored) == raw {
		return append(dst[:0], stored...), nil
	}
	dec, err := d.get(codec)
	if err != nil {
		return nil, err
	}
	defer d.put(codec, dec)
	out, err := dec.Decode(dst[:0], stored, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRepoFormat, err)
	}
	return out, nil
}

// checkedChunk returns the raw bytes of the chunk id, stored as stored,
// raw bytes long when expanded with codec: an error wrapping
// ErrRepoFormat when they do not expand, or not to raw bytes that hash
// to id. dst is a buffer to reuse.
func (d *decoders) checkedChunk(dst, stored []byte, raw int, codec uint8, id index.ID) ([]byte, error) {
	out, err := d.expandChunk(dst, stored, raw, codec)
	if err == nil && (len(out) != raw || sha256.Sum256(out) != id) {
		err = fmt.Errorf("%w: contents do not match the id", ErrRepoFormat)
	}
	return out, err
}
