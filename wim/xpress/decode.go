package xpress

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
)

// ErrCorrupt is wrapped by every error Decode returns for malformed input.
var ErrCorrupt = errors.New("xpress: corrupt data")

// Decoding table layout: a primary table indexed by the next primaryBits
// bits of the stream, then subtables for longer codes. A direct entry holds
// symbol<<4 | code length; a subtable entry has subFlag set and the
// subtable's start index.
const (
	primaryBits = 11
	subFlag     = 1 << 31
	// Each prefix of a longer code gets one subtable of 1<<(maxLen-
	// primaryBits) entries; there are at most numSymbols such prefixes.
	tableSize = 1<<primaryBits + numSymbols<<(maxCodeLen-primaryBits)
)

// Decoder decompresses chunks. Its zero value is ready to use, though
// [NewDecoder] is the usual way to get one. A Decoder is reusable and keeps
// its tables (about 41 KiB) between calls; it is not safe for concurrent use.
type Decoder struct {
	table   [tableSize]uint32
	subBits uint // index bits of every subtable for the current code
	sorted  [numSymbols]uint16
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder { return new(Decoder) }

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
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
	if len(src) < tableBytes {
		return dst, corrupt("chunk of %d bytes is shorter than its code table", len(src))
	}
	if err := d.buildTable(src[:tableBytes]); err != nil {
		return dst, err
	}
	start := len(dst)
	dst = slices.Grow(dst, size)
	if err := d.decodeStream(dst[start:start+size], src[tableBytes:]); err != nil {
		return dst[:start], err
	}
	return dst[:start+size], nil
}

// buildTable reads the code lengths and fills the decoding table. The lengths
// must form a complete code.
func (d *Decoder) buildTable(lengths []byte) error {
	var count [maxCodeLen + 1]int
	for _, b := range lengths {
		count[b&15]++
		count[b>>4]++
	}
	count[0] = 0
	left := 1
	maxLen := 0
	for l := 1; l <= maxCodeLen; l++ {
		left = left<<1 - count[l]
		if left < 0 {
			return corrupt("code lengths oversubscribed")
		}
		if count[l] != 0 {
			maxLen = l
		}
	}
	if left != 0 {
		return corrupt("code lengths incomplete")
	}

	// Sort symbols by (length, symbol).
	var offs [maxCodeLen + 2]int
	for l := 1; l <= maxCodeLen; l++ {
		offs[l+1] = offs[l] + count[l]
	}
	for i, b := range lengths {
		if l := b & 15; l != 0 {
			d.sorted[offs[l]] = uint16(2 * i)
			offs[l]++
		}
		if l := b >> 4; l != 0 {
			d.sorted[offs[l]] = uint16(2*i + 1)
			offs[l]++
		}
	}

	d.subBits = uint(max(maxLen-primaryBits, 0))
	next := 1 << primaryBits // next free subtable index
	prefix := -1             // primary index of the current subtable
	code, i := 0, 0
	for l := 1; l <= maxLen; l++ {
		for range count[l] {
			e := uint32(d.sorted[i])<<4 | uint32(l)
			i++
			if l <= primaryBits {
				lo := code << (primaryBits - l)
				fill(d.table[lo:lo+1<<(primaryBits-l)], e)
			} else {
				extra := l - primaryBits
				if p := code >> extra; p != prefix {
					prefix = p
					d.table[p] = subFlag | uint32(next)
					next += 1 << d.subBits
				}
				sub := int(d.table[prefix]&^subFlag) + (code&(1<<extra-1))<<(int(d.subBits)-extra)
				fill(d.table[sub:sub+1<<(int(d.subBits)-extra)], e)
			}
			code++
		}
		code <<= 1
	}
	return nil
}

func fill(t []uint32, e uint32) {
	for i := range t {
		t[i] = e
	}
}

// decodeStream decodes the bit stream src into out, filling it exactly.
//
// The bit buffer holds up to 64 bits, MSB-aligned, so it runs ahead of the
// reference decoder (which holds 16 to 32 bits after each symbol). Before
// reading raw length bytes the words it holds beyond the reference decoder's
// are given back, so raw bytes are read where that decoder would read them.
// Words past the end of src read as zero; a stream whose reference decoder
// would have needed them is corrupt.
func (d *Decoder) decodeStream(out, src []byte) error {
	var (
		buf   uint64 // unconsumed bits, MSB-aligned; bits below them are 0
		nbits uint   // number of unconsumed bits in buf
		pos   int    // next byte of src to load
	)
	table := &d.table
	subBits := d.subBits
	size := len(out)
	o := 0
	for o < size {
		if nbits < 32 {
			// Usually 16 < nbits < 32 here and two whole words are left:
			// load both at once.
			if nbits > 16 && pos+4 <= len(src) {
				v := binary.LittleEndian.Uint32(src[pos:])
				buf |= uint64(bits.RotateLeft32(v, 16)) << (32 - nbits)
				nbits += 32
				pos += 4
			}
			for nbits <= 48 {
				var w uint64
				if pos+1 < len(src) {
					w = uint64(src[pos]) | uint64(src[pos+1])<<8
				}
				buf |= w << (48 - nbits)
				nbits += 16
				pos += 2
			}
		}
		e := table[buf>>(64-primaryBits)]
		if e&subFlag != 0 {
			e = table[(e&^subFlag)+uint32((buf<<primaryBits)>>(64-subBits))&(1<<subBits-1)]
		}
		l := uint(e & 15)
		buf <<= l
		nbits -= l
		sym := e >> 4
		if sym < 256 {
			out[o] = byte(sym)
			o++
			continue
		}

		s := sym - 256
		length := int(s&15) + minMatch
		offBits := uint(s >> 4)
		if length == 18 {
			// Give back the words loaded beyond the reference decoder's.
			ref := 16 + nbits%16
			pos -= int(nbits-ref) / 8
			nbits = ref
			buf &= ^uint64(0) << (64 - ref)
			if pos >= len(src) {
				return corrupt("stream truncated in a match length")
			}
			b := src[pos]
			pos++
			if b < 255 {
				length = int(b) + 18
			} else {
				if pos+1 >= len(src) {
					return corrupt("stream truncated in a match length")
				}
				length = int(uint16(src[pos])|uint16(src[pos+1])<<8) + minMatch
				pos += 2
			}
		}
		// nbits >= 16 here: at least 17 after a refill and one symbol, or
		// 16..31 after giving words back.
		offset := 1<<offBits | int(buf>>(64-offBits)&(1<<offBits-1))
		buf <<= offBits
		nbits -= offBits

		if offset > o {
			return corrupt("match offset %d before start of chunk at %d", offset, o)
		}
		if length > size-o {
			return corrupt("match of %d bytes overruns chunk at %d", length, o)
		}
		copyMatch(out[:o+length], o, offset)
		o += length
	}
	// The reference decoder holds 16..31 bits here and must not have loaded
	// a word past the end.
	ref := 16 + nbits%16
	if refEnd := pos - (int(nbits)-int(ref))/8; refEnd > len(src) {
		return corrupt("stream truncated")
	}
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
	// Each copy doubles the repeated run; the copied length stays a
	// multiple of offset, so the pattern phase is kept.
	for n := o; n < len(out); {
		n += copy(out[n:], out[from:n])
	}
}
