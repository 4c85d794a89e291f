package lzms

import (
	"encoding/binary"
	"errors"
	"fmt"
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
	literalTableBits = 10
	lengthTableBits  = 9
	offsetTableBits  = 11
	powerTableBits   = 7
)

// Decoder decompresses LZMS chunks. It is reusable and keeps its tables
// (about 420 KiB) between calls; it is not safe for concurrent use.
type Decoder struct {
	rd       rangeDecoder
	br       bitReader
	classes  classes
	lzReps   repQueue
	dtReps   repQueue
	prev     uint32 // kind of the previous item: literal, lzItem or deltaItem
	literal  *adaptiveCode
	length   *adaptiveCode
	lzOffset *adaptiveCode
	dtOffset *adaptiveCode
	power    *adaptiveCode
	builder  codeBuilder
	x86      x86Filter
}

// Item kinds, as the repeat queues' delayed insertion needs them.
const (
	lzItem    = 1
	deltaItem = 2
)

// classes are the decision classes of the range decoder.
type classes struct {
	main     class    // literal or match
	match    class    // LZ or delta match
	lz       class    // explicit or repeat LZ offset
	delta    class    // explicit or repeat delta pair
	lzRep    [2]class // repeat LZ offset 0, or further; 1, or 2
	deltaRep [2]class // the same for delta pairs
}

// reset gives every class its initial state.
func (c *classes) reset() {
	c.main.reset(4)
	c.match.reset(5)
	for _, x := range []*class{&c.lz, &c.delta, &c.lzRep[0], &c.lzRep[1], &c.deltaRep[0], &c.deltaRep[1]} {
		x.reset(6)
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
	start := len(dst)
	dst = slices.Grow(dst, size)
	out := dst[start : start+size]
	d.reset(src, size)
	if err := d.decodeItems(out); err != nil {
		return dst[:start], err
	}
	d.x86.undo(out)
	return dst[:start+size], nil
}

// reset prepares the decoder for the chunk src of size bytes.
func (d *Decoder) reset(src []byte, size int) {
	d.rd.init(src)
	d.br.init(src)
	d.classes.reset()
	d.lzReps = newRepQueue()
	d.dtReps = newRepQueue()
	d.prev = 0
	n := numOffsetSlots(size)
	d.literal.reset(numLiteralSyms)
	d.length.reset(numLengthSyms)
	d.lzOffset.reset(n)
	d.dtOffset.reset(n)
	d.power.reset(numPowerSyms)
}

// decodeItems decodes the items of the chunk into out, filling it exactly.
//
// Literals are decoded here with the range decoder's and the bit reader's
// state in local variables; for a match they go back to d.rd and d.br for
// the match's decoding methods.
func (d *Decoder) decodeItems(out []byte) error {
	src := d.rd.src
	rng, code, rpos := d.rd.rng, d.rd.code, d.rd.pos
	buf, nbits, bpos := d.br.buf, d.br.nbits, d.br.pos
	main := &d.classes.main
	lit := d.literal
	litTable := (*[1 << literalTableBits]uint32)(lit.table.entries)
	for o := 0; o < len(out); {
		if nbits < refillBits {
			if bpos >= 8 {
				buf |= binary.LittleEndian.Uint64(src[bpos-8:]) >> nbits
				k := (64 - nbits) >> 4
				bpos -= int(2 * k)
				nbits += 16 * k
			} else {
				d.br.buf, d.br.nbits, d.br.pos = buf, nbits, bpos
				if err := d.refillChecked(); err != nil {
					return err
				}
				buf, nbits, bpos = d.br.buf, d.br.nbits, d.br.pos
			}
		}
		if rng < 1<<16 {
			// Each item starts here, so a stream that ran off its end
			// stops within a few items.
			rng <<= 16
			code <<= 16
			if rpos+2 > len(src) {
				return corrupt("range coder runs past the end at %d", o)
			}
			code |= uint32(binary.LittleEndian.Uint16(src[rpos:]))
			rpos += 2
		}

		e := &main.probs[main.state&15]
		bound := (rng >> probBits) * e.prob()
		if code < bound {
			rng = bound
			e.update(0)
			main.state = main.state << 1 & 15
			h := litTable[buf>>(64-literalTableBits)]
			if h&linkFlag != 0 {
				h = lit.table.entries[(h&^linkFlag)+uint32(buf<<literalTableBits>>(64-lit.table.subBits))]
			}
			buf <<= h & lenMask
			nbits -= uint(h & lenMask)
			sym := h >> 16
			out[o] = byte(sym)
			o++
			d.prev = 0
			lit.freqs[sym&0xFF]++
			lit.left--
			if lit.left == 0 {
				lit.rebuild()
			}
			continue
		}
		rng -= bound
		code -= bound
		e.update(1)
		main.state = (main.state<<1 | 1) & 15

		d.rd.rng, d.rd.code, d.rd.pos = rng, code, rpos
		d.br.buf, d.br.nbits, d.br.pos = buf, nbits, bpos
		var n int
		var err error
		if d.rd.decode(&d.classes.match) == 0 {
			n, err = d.lzMatch(out, o)
		} else {
			n, err = d.deltaMatch(out, o)
		}
		if err != nil {
			return err
		}
		o += n
		rng, code, rpos = d.rd.rng, d.rd.code, d.rd.pos
		buf, nbits, bpos = d.br.buf, d.br.nbits, d.br.pos
	}
	d.rd.rng, d.rd.code, d.rd.pos = rng, code, rpos
	d.br.buf, d.br.nbits, d.br.pos = buf, nbits, bpos
	if d.rd.overrun() || d.br.overrun() {
		return corrupt("stream truncated")
	}
	return nil
}

// refillChecked refills the bit reader and fails if the stream has consumed
// bits before its start.
func (d *Decoder) refillChecked() error {
	d.br.refill()
	if d.br.overrun() {
		return corrupt("bit stream runs past the start")
	}
	return nil
}

// lzMatch decodes an LZ match, whose item type has been read, to out[o:]
// and returns its length.
func (d *Decoder) lzMatch(out []byte, o int) (int, error) {
	rd, c := &d.rd, &d.classes
	var offset uint64
	if rd.decode(&c.lz) == 0 {
		offset = uint64(d.slotValue(d.lzOffset, offsetSlots))
		d.lzReps.push(offset)
	} else {
		offset = d.lzReps.take(repIndex(rd, &c.lzRep) + d.prev&lzItem)
	}
	d.prev = lzItem
	length := int(d.slotValue(d.length, lengthSlots))
	if offset > uint64(o) {
		return 0, corrupt("match offset %d before start of chunk at %d", offset, o)
	}
	if length > len(out)-o {
		return 0, corrupt("match of %d bytes overruns chunk at %d", length, o)
	}
	copyMatch(out, o, int(offset), length)
	return length, nil
}

// deltaMatch decodes a delta match, whose item type has been read, to
// out[o:] and returns its length.
func (d *Decoder) deltaMatch(out []byte, o int) (int, error) {
	rd, c := &d.rd, &d.classes
	var pair uint64
	if rd.decode(&c.delta) == 0 {
		d.br.refill()
		power := d.power.decode(&d.br)
		raw := d.slotValue(d.dtOffset, offsetSlots)
		pair = uint64(power)<<32 | uint64(raw)
		d.dtReps.push(pair)
	} else {
		pair = d.dtReps.take(repIndex(rd, &c.deltaRep) + d.prev>>1)
	}
	d.prev = deltaItem
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
	return length, nil
}

// repIndex reads which of the three usable repeat entries a match uses.
func repIndex(rd *rangeDecoder, rep *[2]class) uint32 {
	if rd.decode(&rep[0]) == 0 {
		return 0
	}
	return 1 + rd.decode(&rep[1])
}

// slotValue reads a slot symbol of code and its extra bits, and returns the
// value they give.
func (d *Decoder) slotValue(code *adaptiveCode, slots *[1024]slotInfo) uint32 {
	d.br.refill()
	s := slots[code.decode(&d.br)&1023]
	return s.base() + d.br.bits(s.extra())
}
