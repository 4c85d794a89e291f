package lzms

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// x86Filter makes (compressing) or undoes (decompressing) the x86 address
// translation (see the package comment). It remembers, for each 16-bit
// target, the position of the last instruction that used it. Positions
// are stored plus base, which moves on past the previous chunk's positions
// and the target window from one chunk to the next, so entries from
// earlier chunks are always too old to count and the table needs no
// clearing per chunk.
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
func (f *x86Filter) undo(b []byte) { f.filter(b, true) }

// apply makes the translation in b, a chunk about to be encoded, that undo
// reverses: both scan the chunk alike and make the same decisions, which
// depend only on opcode bytes and on operands as they are untranslated.
func (f *x86Filter) apply(b []byte) { f.filter(b, false) }

// filter makes the translation in b, or undoes it when undo is set.
func (f *x86Filter) filter(b []byte, undo bool) {
	if len(b) < x86MinSize {
		return
	}
	f.advance(len(b))
	codeAt := -x86MaxReach - 1 // last position judged to be x86 code
	end := len(b) - x86Tail
	// Look at 8 bytes at a time (p+10 < len(b)), visiting the bytes that
	// may start an instruction.
	for p := 1; p < end; {
		le := binary.LittleEndian
		m := candidates(le.Uint64(b[p:]), le.Uint64(b[p+1:]), le.Uint64(b[p+2:]))
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
				codeAt = f.translate(b, q, n, reach, codeAt, undo)
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

// candidates flags (sets the top bit of) the bytes of w, the 8 bytes at
// some position, that may start an instruction undo translates or skips,
// judging by them and the bytes after them (w1 and w2: the 8 bytes one and
// two further on): E8, E9, FF 15, F0 83 05, and 48 or 4C followed by 89,
// 8B, 8D or 8F and a byte ending in 101. It may flag more bytes than those
// (see zeroish), and undo checks the exact rule for each; a byte left out
// starts no instruction, so skipping it changes neither the data nor the
// scan. In code, most 48 and FF bytes are other instructions, and text
// (no byte with the top bit set) has no candidates at all.
func candidates(w, w1, w2 uint64) uint64 {
	if (w|w1)&(0x80*ones) == 0 {
		return 0 // every rule needs a byte with the top bit set there
	}
	m := zeroish(w&(0xFB*ones)^0x48*ones) & zeroish(w1&(0xF9*ones)^0x89*ones) & zeroish(w2&(0x07*ones)^0x05*ones)
	if w&(0x80*ones) != 0 {
		m |= zeroish(w&(0xFE*ones)^0xE8*ones) | zeroish(^w|w1^0x15*ones) |
			zeroish(w^0xF0*ones|w1^0x83*ones|w2^0x05*ones)
	}
	return m
}

const ones = 0x0101010101010101

// zeroish flags (sets the top bit of) each byte of x that is zero, and
// may flag bytes above a zero one as well (the borrow of the subtraction
// runs on), but never flags a byte when none below or at it is zero.
func zeroish(x uint64) uint64 { return (x - ones) &^ x & (0x80 * ones) }

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
// 32-bit operand: when p is within reach of codeAt, it turns the operand
// back into a relative address (undo) or into an absolute one, and returns
// the new last code position. The target that decides it is taken from the
// relative operand in both directions.
func (f *x86Filter) translate(b []byte, p, n, reach, codeAt int, undo bool) int {
	op := b[p+n : p+n+4]
	rel := binary.LittleEndian.Uint16(op)
	if p-codeAt <= reach {
		v := binary.LittleEndian.Uint32(op)
		if undo {
			v -= uint32(p)
			rel = uint16(v)
		} else {
			v += uint32(p)
		}
		binary.LittleEndian.PutUint32(op, v)
	}
	target := uint16(p) + rel
	last := p + n + 3 // the operand's last byte
	at := f.base + int32(last)
	if at-f.lastUsed[target] <= x86TargetWindow {
		codeAt = last
	}
	f.lastUsed[target] = at
	return codeAt
}
