package lzx

import (
	"bytes"
	"encoding/binary"
)

// The E8 translation: LZX encoders turn the relative 32-bit targets of x86
// CALL instructions (byte 0xE8) into absolute ones, which repeat more, and
// decoders turn them back. In WIM chunks it runs over the whole chunk with a
// translation size of e8Size; the last 10 bytes never start an instruction,
// and after an E8 byte the 4 bytes of its operand are skipped whether or not
// they changed.

// undoE8 reverses the translation in a decoded chunk.
func undoE8(b []byte) {
	for i := 0; i < len(b)-10; i++ {
		j := bytes.IndexByte(b[i:len(b)-10], 0xE8)
		if j < 0 {
			return
		}
		i += j
		a := int32(binary.LittleEndian.Uint32(b[i+1:]))
		switch {
		case a >= 0 && a < e8Size:
			binary.LittleEndian.PutUint32(b[i+1:], uint32(a-int32(i)))
		case a < 0 && a >= -int32(i):
			binary.LittleEndian.PutUint32(b[i+1:], uint32(a+e8Size))
		}
		i += 4
	}
}

// doE8 applies the translation to a chunk before it is encoded.
func doE8(b []byte) {
	for i := 0; i < len(b)-10; i++ {
		j := bytes.IndexByte(b[i:len(b)-10], 0xE8)
		if j < 0 {
			return
		}
		i += j
		r := int32(binary.LittleEndian.Uint32(b[i+1:]))
		if r >= -int32(i) && r < e8Size {
			if r < e8Size-int32(i) {
				binary.LittleEndian.PutUint32(b[i+1:], uint32(r+int32(i)))
			} else {
				binary.LittleEndian.PutUint32(b[i+1:], uint32(r-e8Size))
			}
		}
		i += 4
	}
}
