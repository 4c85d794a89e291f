package lzms

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// x86Filter undoes the compressor's x86 address translation (see the package
// comment). It remembers, for each 16-bit target, the position of the last
// instruction that used it. Positions are stored plus base, which moves on
// past the previous chunk's positions and the target window from one chunk
// to the next, so entries from earlier chunks are always too old to count
// and the table needs no clearing per chunk.
type x86Filter struct {
	base     int32 // added to this chunk's positions
	next     int32 // the least base for the next chunk; 0 to clear first
	lastUsed [1 << 16]int32
}

// x86MinSize is the smallest chunk the filter changes.
const x86MinSize = 18

// x86Tail is the number of bytes at the end of a chunk where no instruction
// is looked for.
const x86Tail = 16

// undo reverses the translation in the decoded chunk b.
func (f *x86Filter) undo(b []byte) {
	if len(b) < x86MinSize {
		return
	}
	f.advance(len(b))
	codeAt := -x86MaxReach - 1 // last position judged to be x86 code
	end := len(b) - x86Tail
	// Look at 8 bytes at a time (p+8 < len(b)), visiting the bytes that
	// may start an instruction.
	for p := 1; p < end; {
		// Flag the bytes that may start one. The opcodes other than
		// 48 and 4C have their top bit set; ASCII text has none.
		w := binary.LittleEndian.Uint64(b[p:])
		m := rexBytes(w)
		if w&0x8080808080808080 != 0 {
			m |= highOpcodeBytes(w)
		}
		next := p + 8
		for m != 0 {
			q := p + bits.TrailingZeros64(m)>>3
			if q >= end {
				return
			}
			// The opcode's length, and how far after the last code
			// position the instruction may be translated.
			n, reach, skip := 0, x86MaxReach, 1
			switch op := b[q : q+3]; op[0] {
			case 0x48, 0x4C: // REX.W LEA or MOV, ModR/M ending in 101
				if op[2]&7 == 5 && (op[1] == 0x8D || op[1] == 0x8B && op[0]&4 == 0 && op[2]&0xF0 == 0) {
					n = 3
				}
			case 0xE8: // CALL rel32: common in data, so trusted less
				n, reach = 1, x86MaxReach/2
			case 0xE9: // JMP rel32: skipped with its operand
				skip = 5
			case 0xF0: // LOCK ADD [rip+disp32], imm8
				if op[1] == 0x83 && op[2] == 0x05 {
					n = 3
				}
			case 0xFF: // CALL [rip+disp32]
				if op[1] == 0x15 {
					n = 2
				}
			}
			if n != 0 {
				codeAt = f.translate(b, q, n, reach, codeAt)
				skip = n + 4
			}
			if q+skip >= next {
				next = q + skip
				break
			}
			m &= ^uint64(0) << (8 * (q + skip - p))
		}
		p = next
	}
}

// rexBytes flags the bytes of w (little-endian) that are 48 or 4C, setting
// their top bits.
func rexBytes(w uint64) uint64 {
	return zeroBytes(w&0xFBFBFBFBFBFBFBFB ^ 0x4848484848484848)
}

// highOpcodeBytes flags the bytes of w that are E8, E9, F0 or FF.
func highOpcodeBytes(w uint64) uint64 {
	return zeroBytes(w&0xFEFEFEFEFEFEFEFE^0xE8E8E8E8E8E8E8E8) |
		zeroBytes(w^0xF0F0F0F0F0F0F0F0) | zeroBytes(^w)
}

// zeroBytes sets the top bit of each byte of x that is zero, and clears the
// others.
func zeroBytes(x uint64) uint64 {
	const low7 = 0x7F7F7F7F7F7F7F7F
	return ^(x&low7 + low7 | x) &^ low7
}

// advance picks the base for a chunk of size bytes, clearing the table only
// when the stored positions would overflow.
func (f *x86Filter) advance(size int) {
	if f.next == 0 || int64(f.next)+int64(size) > math.MaxInt32 {
		clear(f.lastUsed[:])
		f.next = x86TargetWindow + 1
	}
	f.base = f.next
	next := int64(f.base) + int64(size) + x86TargetWindow + 1
	if next > math.MaxInt32 {
		next = 0
	}
	f.next = int32(next)
}

// translate handles the instruction at p with an n-byte opcode followed by a
// 32-bit operand: it turns the operand back into a relative address when p
// is within reach of codeAt, and returns the new last code position.
func (f *x86Filter) translate(b []byte, p, n, reach, codeAt int) int {
	op := b[p+n : p+n+4]
	if p-codeAt <= reach {
		v := binary.LittleEndian.Uint32(op)
		binary.LittleEndian.PutUint32(op, v-uint32(p))
	}
	target := uint16(p) + binary.LittleEndian.Uint16(op)
	last := p + n + 3 // the operand's last byte
	at := f.base + int32(last)
	if at-f.lastUsed[target] <= x86TargetWindow {
		codeAt = last
	}
	f.lastUsed[target] = at
	return codeAt
}
