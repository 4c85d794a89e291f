package lzx

import (
	"encoding/binary"
)

// decodeBlock decodes the items of a verbatim or aligned block into
// out[o:end]; out[:o] is the chunk decoded so far. Matches may not reach
// before the chunk's start nor past the block's end.
//
// The bit reader lives in local variables here; match copies move 8-byte
// words while the chunk has room for their overshoot.
func (d *Decoder) decodeBlock(out []byte, o, end int, reps *[numRepeats]uint32, aligned bool) error {
	r := &d.br
	sw, pos, buf, nbits := r.sw, r.pos, r.buf, r.nbits
	// The primary tables as arrays, indexed by a shift of buf: no bounds
	// checks. out ends with the block, so that o < len(out) proves out[o].
	mainT, mainSB := d.main.entries, d.main.subBits
	mainP := (*[1 << mainTableBits]uint32)(mainT)
	lenT, lenSB := d.length.entries, d.length.subBits
	lenP := (*[1 << lenTableBits]uint32)(lenT)
	alP := (*[1 << alignedTableBits]uint32)(d.aligned.entries)
	out = out[:end]
	r0, r1, r2 := reps[0], reps[1], reps[2]
	for o < len(out) {
		if nbits <= 48 {
			buf, nbits, pos = refill(sw, pos, buf, nbits)
		}
		e := mainP[buf>>(64-mainTableBits)]
		if e&subFlag != 0 {
			e = mainT[(e&^subFlag)+uint32((buf<<mainTableBits)>>(64-mainSB))]
		}
		l := uint(e & 31)
		if l == 0 {
			return corrupt("invalid main codeword at %d", o)
		}
		buf <<= l
		nbits -= l
		sym := int(e >> 8 & 0xffff)
		if sym < numChars {
			out[o] = byte(sym)
			o++
			// More literals while 16 bits remain for a codeword.
			for o < len(out) && nbits >= maxCodeLen {
				e = mainP[buf>>(64-mainTableBits)]
				if e&subFlag != 0 {
					e = mainT[(e&^subFlag)+uint32((buf<<mainTableBits)>>(64-mainSB))]
				}
				if sym = int(e >> 8 & 0xffff); sym >= numChars || e&31 == 0 {
					break // decoded again in full by the next iteration
				}
				l = uint(e & 31)
				buf <<= l
				nbits -= l
				out[o] = byte(sym)
				o++
			}
			continue
		}
		sym -= numChars
		n := minMatch + sym&(numLenHeaders-1)
		if n == minMatch+numLenHeaders-1 {
			e := lenP[buf>>(64-lenTableBits)]
			if e&subFlag != 0 {
				e = lenT[(e&^subFlag)+uint32((buf<<lenTableBits)>>(64-lenSB))]
			}
			l := uint(e & 31)
			if l == 0 {
				return corrupt("invalid length codeword at %d", o)
			}
			buf <<= l
			nbits -= l
			n += int(e >> 8 & 0xffff)
		}
		var off uint32
		switch slot := sym / numLenHeaders; slot {
		case 0:
			off = r0
		case 1:
			off, r1 = r1, r0
			r0 = off
		case 2:
			off, r2 = r2, r0
			r0 = off
		default:
			if nbits <= 48 {
				buf, nbits, pos = refill(sw, pos, buf, nbits)
			}
			fb := uint(footerBits[slot&63])
			if aligned && fb >= alignedLenBits {
				v := uint32(buf>>1>>(63-(fb-alignedLenBits))) << alignedLenBits
				buf <<= fb - alignedLenBits
				nbits -= fb - alignedLenBits
				e := alP[buf>>(64-alignedTableBits)]
				l := uint(e & 31)
				if l == 0 {
					return corrupt("invalid aligned offset codeword at %d", o)
				}
				buf <<= l
				nbits -= l
				off = slotBase[slot&63] + v + e>>8&7
			} else {
				off = slotBase[slot&63] + uint32(buf>>1>>(63-fb))
				buf <<= fb
				nbits -= fb
			}
			r2, r1, r0 = r1, r0, off
		}
		if int(off) > o {
			return corrupt("match offset %d before the start of the chunk at %d", off, o)
		}
		if n > len(out)-o {
			return corrupt("match of %d bytes crosses the end of the block at %d", n, o)
		}
		if from := o - int(off); off >= 8 && o+n+16 <= len(out) {
			// copyMatch's word copy, inlined for the usual short match.
			binary.LittleEndian.PutUint64(out[o:], binary.LittleEndian.Uint64(out[from:]))
			binary.LittleEndian.PutUint64(out[o+8:], binary.LittleEndian.Uint64(out[from+8:]))
			for i := 16; i < n; i += 8 {
				binary.LittleEndian.PutUint64(out[o+i:], binary.LittleEndian.Uint64(out[from+i:]))
			}
		} else {
			copyMatch(out, o, int(off), n)
		}
		o += n
	}
	r.pos, r.buf, r.nbits = pos, buf, nbits
	reps[0], reps[1], reps[2] = r0, r1, r2
	return nil
}

// copyMatch writes the n bytes at offset off before o to out[o:]; the
// source may overlap the destination, repeating a pattern of off bytes.
// When out has 8 bytes of room past the match it copies 8-byte words and
// may write up to 7 bytes past the match, which later items overwrite.
func copyMatch(out []byte, o, off, n int) {
	from := o - off
	switch {
	case o+n+8 > len(out):
		for i := range n {
			out[o+i] = out[from+i]
		}
	case off >= 8:
		// Each word read ends before the word written starts.
		for i := 0; i < n; i += 8 {
			binary.LittleEndian.PutUint64(out[o+i:], binary.LittleEndian.Uint64(out[from+i:]))
		}
	default:
		// Repeat the off-byte pattern across a word, then write it at
		// steps of a whole number of periods.
		v := binary.LittleEndian.Uint64(out[from:]) & (1<<(8*off) - 1)
		for sh := uint(8 * off); sh < 64; sh *= 2 {
			v |= v << sh
		}
		step := 8 - 8%off
		for i := 0; i < n; i += step {
			binary.LittleEndian.PutUint64(out[o+i:], v)
		}
	}
}
