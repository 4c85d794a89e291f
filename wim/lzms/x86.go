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
	for p := 1; p < end; {
		// Skip to the first byte that may start an instruction, 8 bytes
		// at a time (p+8 < len(b) here).
		m := opcodeBytes(binary.LittleEndian.Uint64(b[p:]))
		if m == 0 {
			p += 8
			continue
		}
		p += bits.TrailingZeros64(m) / 8
		if p >= end {
			break
		}
		n, reach := opcodeLen(b[p:])
		switch {
		case n == 0:
			p++
		case n < 0:
			p -= n // skip a JMP and its operand
		default:
			codeAt = f.translate(b, p, n, reach, codeAt)
			p += n + 4
		}
	}
}

// opcodeBytes flags the bytes of w (little-endian) that may be the first of
// an instruction opcodeLen knows, setting their top bits: 48 or 4C, E8 or
// E9, and F0 to FF. Only the lowest flag is sure to be right; the bytes
// above it may be flagged wrongly, as borrows run upwards.
func opcodeBytes(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	rex := w&(0xFB*ones) ^ 0x48*ones // zero bytes: 48 or 4C
	rel := w&(0xFE*ones) ^ 0xE8*ones // E8 or E9
	grp := w&(0xF0*ones) ^ 0xF0*ones // F0 to FF
	return (rex-ones)&^rex&highs | (rel-ones)&^rel&highs | (grp-ones)&^grp&highs
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

// opcodeLen returns the length of a translatable instruction's opcode at the
// start of b (which holds at least 3 bytes) and how far after the last code
// position it may be translated; 0 if there is none, and -5 for a JMP, which
// is skipped whole.
func opcodeLen(b []byte) (n, reach int) {
	switch b[0] {
	case 0xE8: // CALL rel32: common in data, so trusted less
		return 1, x86MaxReach / 2
	case 0xE9: // JMP rel32
		return -5, 0
	case 0xFF: // CALL [rip+disp32]
		if b[1] == 0x15 {
			return 2, x86MaxReach
		}
	case 0xF0: // LOCK ADD [rip+disp32], imm8
		if b[1] == 0x83 && b[2] == 0x05 {
			return 3, x86MaxReach
		}
	case 0x48, 0x4C: // REX.W LEA or MOV with a ModR/M byte ending in 101
		if b[2]&7 == 5 && (b[1] == 0x8D || b[1] == 0x8B && b[0]&4 == 0 && b[2]&0xF0 == 0) {
			return 3, x86MaxReach
		}
	}
	return 0, 0
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
