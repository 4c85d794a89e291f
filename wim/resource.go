package wim

import "encoding/binary"

// Resource header flags.
const (
	resFree       = 0x01
	resMetadata   = 0x02
	resCompressed = 0x04
	resSpanned    = 0x08
	resSolid      = 0x10
)

// solidResourceMarker is the uncompressed-size value that marks a solid
// resource's own entry in the blob table.
const solidResourceMarker = 0x100000000

// resHdr is a 24-byte resource header: where a resource lies and how big it
// is stored and expanded.
type resHdr struct {
	storedSize int64 // 56 bits on disk
	flags      uint8
	offset     int64
	size       int64 // uncompressed
}

func parseResHdr(b []byte) resHdr {
	le := binary.LittleEndian
	v := le.Uint64(b)
	return resHdr{
		storedSize: int64(v & (1<<56 - 1)),
		flags:      uint8(v >> 56),
		offset:     int64(le.Uint64(b[8:]) & (1<<63 - 1)),
		size:       int64(le.Uint64(b[16:]) & (1<<63 - 1)),
	}
}

func (r resHdr) put(b []byte) {
	le := binary.LittleEndian
	le.PutUint64(b, uint64(r.storedSize)&(1<<56-1)|uint64(r.flags)<<56)
	le.PutUint64(b[8:], uint64(r.offset))
	le.PutUint64(b[16:], uint64(r.size))
}

func (r resHdr) isZero() bool { return r == resHdr{} }
