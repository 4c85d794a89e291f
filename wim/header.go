package wim

import (
	"encoding/binary"
	"fmt"
)

// On-disk sizes and magic values of the header (see doc.go).
const (
	headerSize     = 208
	resHdrSize     = 24
	blobEntrySize  = 50
	versionDefault = 0x00010D00
	versionSolid   = 0x00000E00
)

var wimMagic = [8]byte{'M', 'S', 'W', 'I', 'M', 0, 0, 0}

// pipableMagic starts both headers of a pipable WIM (see pipable.go).
var pipableMagic = [8]byte{'W', 'L', 'P', 'W', 'M', 0, 0, 0}

// Header flags.
const (
	flagCompression     = 0x00000002
	flagReadonly        = 0x00000004
	flagSpanned         = 0x00000008
	flagWriteInProgress = 0x00000040
	flagRPFix           = 0x00000080
	flagCompressXPRESS  = 0x00020000
	flagCompressLZX     = 0x00040000
	flagCompressLZMS    = 0x00080000
	flagCompressXPRESS2 = 0x00200000
	codecFlagMask       = flagCompressXPRESS | flagCompressLZX | flagCompressLZMS | flagCompressXPRESS2
	maxImageCount       = 65535
)

// Header is the decoded 208-byte WIM header.
type Header struct {
	Version      uint32
	Flags        uint32
	ChunkSize    uint32
	GUID         [16]byte
	Part, Parts  uint16
	ImageCount   uint32
	BootIndex    uint32
	Compression  Compression
	HasIntegrity bool
	// Pipable reports wimlib's pipable variant (magic "WLPWM"): the
	// fields are those of the header at the end of the file.
	Pipable bool

	blobTable resHdr
	xml       resHdr
	boot      resHdr
	integrity resHdr
}

// parseHeader decodes and validates a header.
func parseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < headerSize {
		return h, fmt.Errorf("%w: header: file is %d bytes, shorter than the 208-byte header", ErrFormat, len(b))
	}
	switch [8]byte(b[0:8]) {
	case wimMagic:
	case pipableMagic:
		h.Pipable = true
	default:
		return h, fmt.Errorf("%w: header: bad magic % x (not a WIM file)", ErrFormat, b[0:8])
	}
	le := binary.LittleEndian
	if n := le.Uint32(b[8:]); n != headerSize {
		return h, fmt.Errorf("%w: header: size field %d at offset 0x8, want 208", ErrFormat, n)
	}
	h.Version = le.Uint32(b[0x0C:])
	h.Flags = le.Uint32(b[0x10:])
	h.ChunkSize = le.Uint32(b[0x14:])
	copy(h.GUID[:], b[0x18:0x28])
	h.Part = le.Uint16(b[0x28:])
	h.Parts = le.Uint16(b[0x2A:])
	h.ImageCount = le.Uint32(b[0x2C:])
	h.blobTable = parseResHdr(b[0x30:])
	h.xml = parseResHdr(b[0x48:])
	h.boot = parseResHdr(b[0x60:])
	h.BootIndex = le.Uint32(b[0x78:])
	h.integrity = parseResHdr(b[0x7C:])
	h.HasIntegrity = h.integrity.offset != 0 && h.integrity.storedSize != 0
	return h, h.validate()
}

// validate checks the fields a reader depends on.
func (h *Header) validate() error {
	if h.Version != versionDefault && h.Version != versionSolid {
		return fmt.Errorf("%w: header: version 0x%x at offset 0xc (want 0x10d00 or 0xe00)", ErrUnsupported, h.Version)
	}
	if h.Parts == 0 || h.Part == 0 || h.Part > h.Parts {
		return fmt.Errorf("%w: header: part %d of %d", ErrFormat, h.Part, h.Parts)
	}
	if h.ImageCount > maxImageCount {
		return fmt.Errorf("%w: header: image count %d exceeds %d", ErrFormat, h.ImageCount, maxImageCount)
	}
	c, err := h.codec()
	if err != nil {
		return err
	}
	h.Compression = c
	if c == CompressNone {
		return nil
	}
	return checkChunkSize(c, h.ChunkSize)
}

// ReadOnly reports whether the header marks the WIM read-only, which
// wimlib and DISM honour by changing nothing in it.
func (h Header) ReadOnly() bool { return h.Flags&flagReadonly != 0 }

// RPFix reports whether the header says that the WIM's absolute symbolic
// links and junctions were made relative to the captured root (wimlib's
// default, which --norpfix turns off).
func (h Header) RPFix() bool { return h.Flags&flagRPFix != 0 }

// Split reports whether the WIM is one part of a split WIM (an .swm file
// of DISM's /Split-Image or wimlib-imagex split).
func (h Header) Split() bool { return h.Parts > 1 || h.Flags&flagSpanned != 0 }

// codec derives the codec from the header flags, in wimlib's test order.
func (h *Header) codec() (Compression, error) {
	if h.Flags&flagCompression == 0 {
		return CompressNone, nil
	}
	switch {
	case h.Flags&flagCompressLZX != 0:
		return CompressLZX, nil
	case h.Flags&(flagCompressXPRESS|flagCompressXPRESS2) != 0:
		return CompressXPRESS, nil
	case h.Flags&flagCompressLZMS != 0:
		return CompressLZMS, nil
	}
	return 0, fmt.Errorf("%w: header: COMPRESSION flag set without a codec (flags 0x%x)", ErrFormat, h.Flags)
}

// checkChunkSize enforces wimlib's power-of-two ranges per codec.
func checkChunkSize(c Compression, size uint32) error {
	lo, hi := uint32(32768), uint32(2097152)
	switch c {
	case CompressXPRESS:
		lo, hi = 4096, 65536
	case CompressLZMS:
		hi = 1 << 30
	case CompressNone, CompressLZX:
		// 32 KiB to 2 MiB
	}
	if size < lo || size > hi || size&(size-1) != 0 {
		return fmt.Errorf("%w: chunk size %d for %v (want a power of two in %d..%d)", ErrFormat, size, c, lo, hi)
	}
	return nil
}

// marshal encodes h into a 208-byte header.
func (h *Header) marshal() []byte {
	b := make([]byte, headerSize)
	le := binary.LittleEndian
	copy(b, wimMagic[:])
	le.PutUint32(b[8:], headerSize)
	le.PutUint32(b[0x0C:], h.Version)
	le.PutUint32(b[0x10:], h.Flags)
	le.PutUint32(b[0x14:], h.ChunkSize)
	copy(b[0x18:], h.GUID[:])
	le.PutUint16(b[0x28:], h.Part)
	le.PutUint16(b[0x2A:], h.Parts)
	le.PutUint32(b[0x2C:], h.ImageCount)
	h.blobTable.put(b[0x30:])
	h.xml.put(b[0x48:])
	h.boot.put(b[0x60:])
	le.PutUint32(b[0x78:], h.BootIndex)
	h.integrity.put(b[0x7C:])
	return b
}

// compressionFlags returns the header flags for codec c.
func compressionFlags(c Compression) uint32 {
	switch c {
	case CompressXPRESS:
		return flagCompression | flagCompressXPRESS
	case CompressLZX:
		return flagCompression | flagCompressLZX
	case CompressLZMS:
		return flagCompression | flagCompressLZMS
	default: // CompressNone
		return 0
	}
}
