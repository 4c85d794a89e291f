package index

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// ID is a SHA-256 object identifier: a chunk, pack, index object or
// snapshot id.
type ID [32]byte

// SHA1 is a stream identifier, as in WIM.
type SHA1 [20]byte

// Compare orders ids by their bytes, as the index keys them.
func (a ID) Compare(b ID) int { return bytes.Compare(a[:], b[:]) }

// Compare orders hashes by their bytes, as the index keys them.
func (a SHA1) Compare(b SHA1) int { return bytes.Compare(a[:], b[:]) }

// Location is where a chunk is stored: a byte range of a pack, the length
// the chunk expands to, and the codec of its stored bytes (the repository's
// codec numbers; Stored == Raw means stored raw).
type Location struct {
	Pack   ID
	Offset uint64
	Stored uint32
	Raw    uint32
	Codec  uint8
}

const locationSize = 32 + 8 + 4 + 4 + 1

func (l Location) marshal() []byte {
	b := make([]byte, locationSize)
	copy(b, l.Pack[:])
	binary.BigEndian.PutUint64(b[32:], l.Offset)
	binary.BigEndian.PutUint32(b[40:], l.Stored)
	binary.BigEndian.PutUint32(b[44:], l.Raw)
	b[48] = l.Codec
	return b
}

func unmarshalLocation(b []byte) (Location, error) {
	if len(b) != locationSize {
		return Location{}, fmt.Errorf("%w: chunk location of %d bytes", ErrCorrupt, len(b))
	}
	var l Location
	copy(l.Pack[:], b)
	l.Offset = binary.BigEndian.Uint64(b[32:])
	l.Stored = binary.BigEndian.Uint32(b[40:])
	l.Raw = binary.BigEndian.Uint32(b[44:])
	l.Codec = b[48]
	return l, nil
}

// Recipe is how a stream is laid out: its size and the ids of its chunks
// in order.
type Recipe struct {
	Size   int64
	Chunks []ID
	// Deltas is the number of deltas applied to resolve it (Stream): 0
	// for a full recipe. Batch.AddStream ignores it.
	Deltas int
}

func (r Recipe) marshal() []byte {
	b := make([]byte, 8+32*len(r.Chunks))
	binary.BigEndian.PutUint64(b, uint64(r.Size))
	for i, c := range r.Chunks {
		copy(b[8+32*i:], c[:])
	}
	return b
}

func unmarshalRecipe(b []byte) (Recipe, error) {
	if len(b) < 8 || (len(b)-8)%32 != 0 {
		return Recipe{}, fmt.Errorf("%w: stream recipe of %d bytes", ErrCorrupt, len(b))
	}
	r := Recipe{Size: int64(binary.BigEndian.Uint64(b)), Chunks: make([]ID, (len(b)-8)/32)}
	for i := range r.Chunks {
		copy(r.Chunks[i][:], b[8+32*i:])
	}
	return r, nil
}

// Sig is a file's stat signature: when all fields are equal, the file is
// taken to be unchanged and is not read again.
type Sig struct {
	Size, MtimeNs, CtimeNs int64
	Ino, Dev               uint64
	Mode                   uint32
}

const sigSize = 8*5 + 4

func (s Sig) marshal() []byte {
	b := make([]byte, sigSize)
	be := binary.BigEndian
	be.PutUint64(b, uint64(s.Size))
	be.PutUint64(b[8:], uint64(s.MtimeNs))
	be.PutUint64(b[16:], uint64(s.CtimeNs))
	be.PutUint64(b[24:], s.Ino)
	be.PutUint64(b[32:], s.Dev)
	be.PutUint32(b[40:], s.Mode)
	return b
}

func unmarshalSig(b []byte) (Sig, bool) {
	if len(b) != sigSize {
		return Sig{}, false
	}
	be := binary.BigEndian
	return Sig{
		Size: int64(be.Uint64(b)), MtimeNs: int64(be.Uint64(b[8:])), CtimeNs: int64(be.Uint64(b[16:])),
		Ino: be.Uint64(b[24:]), Dev: be.Uint64(b[32:]), Mode: be.Uint32(b[40:]),
	}, true
}
