package wim

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// A pipable WIM (wimlib-imagex capture --pipable) can be written to and
// applied from a pipe. Read from a file, it differs from a WIM as follows
// (see doc.go for the whole layout):
//
//   - Both its headers start "WLPWM\0\0\0". The one at offset 0 lacks the
//     blob table and XML; the one filling the last 208 bytes is complete,
//     and is the one read.
//   - Each blob (the extra XML copy after the first header, the metadata
//     resources, then the file data) is preceded by a 40-byte blob header;
//     the blob table's offset points just past it.
//   - In a compressed resource each chunk is preceded by its stored size
//     (u32), and the chunk table follows the chunks. Its entries count the
//     chunk bytes only, not these prefixes. Chunks that do not shrink are
//     stored raw, but the resource stays compressed.
//   - There are no solid resources.
const (
	pwmBlobHdrSize  = 40
	pwmChunkHdrSize = 4
	pwmBlobMagic    = 0x2B9B9BA2443DB9D8
)

// readPipableHeader reads and validates the header at the end of the
// pipable WIM of the given size in r.
func readPipableHeader(r io.ReaderAt, size int64) (Header, error) {
	if size < 2*headerSize {
		return Header{}, fmt.Errorf("%w: pipable WIM: file is %d bytes, too short for its two 208-byte headers", ErrFormat, size)
	}
	b := make([]byte, headerSize)
	if _, err := r.ReadAt(b, size-headerSize); err != nil {
		return Header{}, fmt.Errorf("wim: reading the end header of a pipable WIM: %w", err)
	}
	if [8]byte(b[:8]) != pipableMagic {
		return Header{}, fmt.Errorf("%w: pipable WIM: no header in the last 208 bytes (offset %d: % x; truncated or incompletely written?)",
			ErrFormat, size-headerSize, b[:8])
	}
	h, err := parseHeader(b)
	if err != nil {
		return h, fmt.Errorf("%w (the end header of a pipable WIM, at offset %d)", err, size-headerSize)
	}
	return h, nil
}

// checkBlobHeader checks the 40-byte header before blob b of a pipable WIM
// against b's blob-table entry: magic, size, SHA-1 and the COMPRESSED and
// METADATA flags, which a reader of a pipe goes by (u64 magic, u64
// uncompressed size, 20-byte SHA-1, u32 resource flags).
func (r *Reader) checkBlobHeader(b *blob) error {
	at := b.res.offset - pwmBlobHdrSize
	if at < headerSize {
		return fmt.Errorf("%w: blob %x: resource at offset %d leaves no room for its pipable blob header", ErrFormat, b.hash, b.res.offset)
	}
	var buf [pwmBlobHdrSize]byte
	if _, err := r.ra.ReadAt(buf[:], at); err != nil {
		return fmt.Errorf("%w: blob %x: reading its pipable blob header at offset %d: %w", ErrFormat, b.hash, at, err)
	}
	le := binary.LittleEndian
	var what string
	switch {
	case le.Uint64(buf[:]) != pwmBlobMagic:
		what = fmt.Sprintf("bad magic %#x", le.Uint64(buf[:]))
	case int64(le.Uint64(buf[8:])) != b.res.size:
		what = fmt.Sprintf("size %d, the blob table says %d", le.Uint64(buf[8:]), b.res.size)
	case !bytes.Equal(buf[16:36], b.hash[:]):
		what = fmt.Sprintf("SHA-1 %x", buf[16:36])
	case (le.Uint32(buf[36:])^uint32(b.res.flags))&(resCompressed|resMetadata) != 0:
		what = fmt.Sprintf("flags %#x, the blob table says %#x", le.Uint32(buf[36:]), b.res.flags)
	default:
		return nil
	}
	return fmt.Errorf("%w: blob %x: pipable blob header at offset %d: %s", ErrFormat, b.hash, at, what)
}
