package lzms

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// ErrCorrupt is wrapped by every error Decode returns for malformed input.
var ErrCorrupt = errors.New("lzms: corrupt data")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// Primary decoding table sizes, in index bits: most codewords fit, so
// subtables are rare, and the tables stay cheap to rebuild.
const (
	literalTableBits = 9
	lengthTableBits  = 8
	offsetTableBits  = 10
	powerTableBits   = 7
)

// Decoder decompresses LZMS chunks. It is reusable and keeps its tables
// (about 470 KiB) between calls; it is not safe for concurrent use.
type Decoder struct {
	rd       rangeDecoder
	br       bitReader
	classes  classes
	lzReps   repQueue
	dtReps   repQueue
	lzEnd    int // where the last LZ match ended, or -1
	deltaEnd int // where the last delta match ended, or -1
	literal  *adaptiveCode
	length   *adaptiveCode
	lzOffset *adaptiveCode
	dtOffset *adaptiveCode
	power    *adaptiveCode
	builder  codeBuilder
	x86      x86Filter
	win      windows
}

// b2u returns 1 for true and 0 for false.
func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// classes are the decision classes of the range decoder.
type classes struct {
	main     class    // literal or match (mask4)
	match    class    // LZ or delta match (mask5)
	lz       class    // explicit or repeat LZ offset (mask6)
	delta    class    // explicit or repeat delta pair (mask6)
	lzRep    [2]class // repeat LZ offset 0, or further; 1, or 2 (mask6)
	deltaRep [2]class // the same for delta pairs (mask6)
}

// reset gives every class its initial state.
func (c *classes) reset() {
	for _, x := range []*class{&c.main, &c.match, &c.lz, &c.delta,
		&c.lzRep[0], &c.lzRep[1], &c.deltaRep[0], &c.deltaRep[1]} {
		x.reset()
	}
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder {
	d := new(Decoder)
	b := &d.builder
	d.literal = newAdaptiveCode(numLiteralSyms, literalPeriod, literalTableBits, b)
	d.length = newAdaptiveCode(numLengthSyms, lengthPeriod, lengthTableBits, b)
	d.lzOffset = newAdaptiveCode(maxOffsetSyms, offsetPeriod, offsetTableBits, b)
	d.dtOffset = newAdaptiveCode(maxOffsetSyms, offsetPeriod, offsetTableBits, b)
	d.power = newAdaptiveCode(numPowerSyms, powerPeriod, powerTableBits, b)
	return d
}

// Decode appends exactly size decompressed bytes of the compressed chunk src
// to dst and returns the extended slice. size must be the chunk's
// uncompressed size, 0 to MaxChunkSize. On error the returned slice is dst
// unchanged in length. Decode allocates only when dst lacks capacity for
// size more bytes.
func (d *Decoder) Decode(dst, src []byte, size int) ([]byte, error) {
	if size < 0 || size > MaxChunkSize {
		return dst, corrupt("uncompressed size %d out of range", size)
	}
	if size == 0 {
		return dst, nil
	}
	if len(src) < 4 || len(src)%2 != 0 {
		return dst, corrupt("compressed size %d is odd or less than 4", len(src))
	}
	d.whole(src)
	return d.decode(dst, size)
}

// DecodeAt is Decode of the n compressed bytes at off in r, read in
// windows (about 512 KiB, kept between calls) rather than all at once.
// Errors reading r are returned wrapped, not as ErrCorrupt.
func (d *Decoder) DecodeAt(dst []byte, r io.ReaderAt, off, n int64, size int) ([]byte, error) {
	if size < 0 || size > MaxChunkSize {
		return dst, corrupt("uncompressed size %d out of range", size)
	}
	if size == 0 {
		return dst, nil
	}
	if n < 4 || n%2 != 0 {
		return dst, corrupt("compressed size %d is odd or less than 4", n)
	}
	if err := d.open(r, off, n); err != nil {
		return dst, err
	}
	return d.decode(dst, size)
}

// decode appends the chunk of size bytes, whose windows are open.
func (d *Decoder) decode(dst []byte, size int) ([]byte, error) {
	start := len(dst)
	dst = slices.Grow(dst, size)
	out := dst[start : start+size]
	d.reset(size)
	if err := d.decodeItems(out); err != nil {
		return dst[:start], err
	}
	d.x86.undo(out)
	return dst[:start+size], nil
}

// reset prepares the decoder for a chunk of size bytes.
func (d *Decoder) reset(size int) {
	d.classes.reset()
	d.lzReps = newRepQueue()
	d.dtReps = newRepQueue()
	d.lzEnd, d.deltaEnd = -1, -1
	n := numOffsetSlots(size)
	d.literal.reset(numLiteralSyms)
	d.length.reset(numLengthSyms)
	d.lzOffset.reset(n)
	d.dtOffset.reset(n)
	d.power.reset(numPowerSyms)
}

// decodeItems decodes the items of the chunk into out, filling it exactly.
//
// Literals and LZ matches are decoded here with the range decoder's and the
// bit reader's state in local variables, which the Go compiler can keep in
// registers; they go back to d.rd and d.br for the rarer delta matches and
// near the start of the chunk. The literal code's table lookup is written
// out to index a fixed-size primary table without bounds checks.
func (d *Decoder) decodeItems(out []byte) error {
	fsrc, bsrc := d.rd.src, d.br.src
	fLimit, bLimit := d.win.fLimit, d.win.bLimit
	rng, code, rpos := d.rd.rng, d.rd.code, d.rd.pos
	buf, nbits, bpos := d.br.buf, d.br.nbits, d.br.pos
	c := &d.classes
	mainProbs, mainState := &c.main.probs, c.main.state
	lit := d.literal
	litTable := (*[1 << literalTableBits]uint32)(lit.table.entries)
	for o := 0; o < len(out); {
		if rpos > fLimit || bpos < bLimit {
			var err error
			if rpos, bpos, err = d.slide(rpos, bpos); err != nil {
				return err
			}
			fsrc, bsrc = d.rd.src, d.br.src
			fLimit, bLimit = d.win.fLimit, d.win.bLimit
		}
		if nbits < refillBits {
			if bpos >= 8 {
				buf, nbits, bpos = refillFast(buf, nbits, bpos, bsrc)
			} else {
				buf, nbits, bpos = d.refillSlow(buf, nbits, bpos)
				if d.br.overrun() {
					return corrupt("bit stream runs past the start at %d", o)
				}
			}
		}
		if rng < 1<<16 {
			// Each item starts here, so a stream that ran off its end
			// stops within a few items.
			if rpos+2 > len(fsrc) {
				return corrupt("range coder runs past the end at %d", o)
			}
			rng <<= 16
			code = code<<16 | uint32(binary.LittleEndian.Uint16(fsrc[rpos:]))
			rpos += 2
		}

		var bit uint32
		rng, code, bit = decide(rng, code, &mainProbs[mainState&mask4])
		mainState = mainState<<1 | bit
		if bit == 0 {
			h := litTable[buf>>(64-literalTableBits)]
			if h&linkFlag != 0 {
				h = lit.table.entries[(h&^linkFlag)+uint32(buf<<literalTableBits>>(64-lit.table.subBits))]
			}
			buf <<= h & lenMask
			nbits -= uint(h & lenMask)
			out[o] = byte(h >> 16)
			o++
			lit.count(h >> 16)
			continue
		}

		rng, code, rpos = normalized(rng, code, rpos, fsrc)
		rng, code, bit = decide(rng, code, c.match.at(mask5))
		c.match.push(bit)
		if bit != 0 {
			d.rd.rng, d.rd.code, d.rd.pos = rng, code, rpos
			d.br.buf, d.br.nbits, d.br.pos = buf, nbits, bpos
			n, err := d.deltaMatch(out, o)
			if err != nil {
				return err
			}
			o += n
			rng, code, rpos = d.rd.rng, d.rd.code, d.rd.pos
			buf, nbits, bpos = d.br.buf, d.br.nbits, d.br.pos
			continue
		}

		// An LZ match: its offset, explicit or repeated, then its length.
		rng, code, rpos = normalized(rng, code, rpos, fsrc)
		rng, code, bit = decide(rng, code, c.lz.at(mask6))
		c.lz.push(bit)
		var offset uint64
		if bit == 0 {
			var slot, extra uint32
			slot, buf, nbits = d.lzOffset.table.decode(buf, nbits)
			d.lzOffset.count(slot)
			s := offsetSlots[slot&1023]
			extra, buf, nbits = takeBits(buf, nbits, s.extra())
			offset = uint64(s.base() + extra)
			d.lzReps.push(offset)
		} else {
			rng, code, rpos = normalized(rng, code, rpos, fsrc)
			rng, code, bit = decide(rng, code, c.lzRep[0].at(mask6))
			c.lzRep[0].push(bit)
			j := bit
			if bit != 0 {
				rng, code, rpos = normalized(rng, code, rpos, fsrc)
				rng, code, bit = decide(rng, code, c.lzRep[1].at(mask6))
				c.lzRep[1].push(bit)
				j += bit
			}
			offset = d.lzReps.take(j + b2u(o == d.lzEnd))
		}

		if nbits < refillBits {
			if bpos >= 8 {
				buf, nbits, bpos = refillFast(buf, nbits, bpos, bsrc)
			} else {
				buf, nbits, bpos = d.refillSlow(buf, nbits, bpos)
			}
		}
		var slot, extra uint32
		slot, buf, nbits = d.length.table.decode(buf, nbits)
		d.length.count(slot)
		s := lengthSlots[slot&1023]
		extra, buf, nbits = takeBits(buf, nbits, s.extra())
		length := int(s.base() + extra)
		if offset > uint64(o) {
			return corrupt("match offset %d before start of chunk at %d", offset, o)
		}
		if length > len(out)-o {
			return corrupt("match of %d bytes overruns chunk at %d", length, o)
		}
		copyMatch(out, o, int(offset), length)
		o += length
		d.lzEnd = o
	}
	c.main.state = mainState
	d.rd.rng, d.rd.code, d.rd.pos = rng, code, rpos
	d.br.buf, d.br.nbits, d.br.pos = buf, nbits, bpos
	if d.rd.overrun() || d.br.overrun() {
		return corrupt("stream truncated")
	}
	return nil
}

// refillSlow refills the bit reader near the start of the chunk, where
// units run out, through d.br.
func (d *Decoder) refillSlow(buf uint64, nbits uint, pos int) (uint64, uint, int) {
	r := &d.br
	r.buf, r.nbits, r.pos = buf, nbits, pos
	r.refill()
	return r.buf, r.nbits, r.pos
}

// deltaMatch decodes a delta match, whose item type has been read, to
// out[o:] and returns its length.
func (d *Decoder) deltaMatch(out []byte, o int) (int, error) {
	rd, c := &d.rd, &d.classes
	var pair uint64
	if rd.decode(&c.delta, mask6) == 0 {
		d.br.refill()
		var power uint32
		power, d.br.buf, d.br.nbits = d.power.symbol(d.br.buf, d.br.nbits)
		raw := d.slotValue(d.dtOffset, offsetSlots)
		pair = uint64(power)<<32 | uint64(raw)
		d.dtReps.push(pair)
	} else {
		j := rd.decode(&c.deltaRep[0], mask6)
		if j != 0 {
			j += rd.decode(&c.deltaRep[1], mask6)
		}
		pair = d.dtReps.take(j + b2u(o == d.deltaEnd))
	}
	length := int(d.slotValue(d.length, lengthSlots))
	power := pair >> 32 & 7
	offset := uint64(uint32(pair)) << power
	span := uint64(1) << power
	if offset+span > uint64(o) {
		return 0, corrupt("delta match offset %d span %d before start of chunk at %d", offset, span, o)
	}
	if length > len(out)-o {
		return 0, corrupt("match of %d bytes overruns chunk at %d", length, o)
	}
	deltaMatch(out, o, int(offset), int(span), length)
	d.deltaEnd = o + length
	return length, nil
}

// slotValue reads a slot symbol of code and its extra bits, and returns the
// value they give.
func (d *Decoder) slotValue(code *adaptiveCode, slots *[1024]slotInfo) uint32 {
	r := &d.br
	r.refill()
	var slot uint32
	slot, r.buf, r.nbits = code.symbol(r.buf, r.nbits)
	s := slots[slot&1023]
	return s.base() + r.bits(s.extra())
}
