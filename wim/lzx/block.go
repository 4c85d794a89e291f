package lzx

// decodeBlock decodes the items of a verbatim or aligned block into
// out[o:end]; out[:o] is the chunk decoded so far. Matches may not reach
// before the chunk's start nor past the block's end.
func (d *Decoder) decodeBlock(out []byte, o, end int, reps *[numRepeats]uint32, aligned bool) error {
	r := &d.br
	main, length, al := d.main, d.length, d.aligned
	r0, r1, r2 := reps[0], reps[1], reps[2]
	for o < end {
		r.refill()
		sym := r.decode(main)
		if sym < numChars {
			if sym < 0 {
				return corrupt("invalid main codeword at %d", o)
			}
			out[o] = byte(sym)
			o++
			continue
		}
		sym -= numChars
		n := minMatch + sym&(numLenHeaders-1)
		if n == minMatch+numLenHeaders-1 {
			ls := r.decode(length)
			if ls < 0 {
				return corrupt("invalid length codeword at %d", o)
			}
			n += ls
		}
		slot := sym / numLenHeaders
		var off uint32
		switch slot {
		case 0:
			off = r0
		case 1:
			off = r1
			r1 = r0
			r0 = off
		case 2:
			off = r2
			r2 = r0
			r0 = off
		default:
			r.refill()
			fb := uint(footerBits[slot])
			if aligned && fb >= alignedLenBits {
				v := r.read(fb-alignedLenBits) << alignedLenBits
				a := r.decode(al)
				if a < 0 {
					return corrupt("invalid aligned offset codeword at %d", o)
				}
				off = slotBase[slot] + v + uint32(a)
			} else {
				off = slotBase[slot] + r.read(fb)
			}
			r2, r1, r0 = r1, r0, off
		}
		if int(off) > o {
			return corrupt("match offset %d before the start of the chunk at %d", off, o)
		}
		if n > end-o {
			return corrupt("match of %d bytes crosses the end of the block at %d", n, o)
		}
		copyMatch(out[:o+n], o, int(off))
		o += n
	}
	reps[0], reps[1], reps[2] = r0, r1, r2
	return nil
}

// copyMatch fills out[o:] from offset bytes back; the source may overlap the
// destination, repeating a pattern of offset bytes.
func copyMatch(out []byte, o, offset int) {
	from := o - offset
	if offset >= len(out)-o {
		copy(out[o:], out[from:o])
		return
	}
	for n := o; n < len(out); {
		n += copy(out[n:], out[from:n])
	}
}
