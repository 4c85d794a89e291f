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

// Decoding table layout: a primary table indexed by the next tableBits bits
// of the stream, then subtables for longer codes. Entries:
//
//   - literal: bits 0-3 the code length, bit 4 set, bits 8-15 the byte;
//   - match: bits 0-3 the code length, bit 4 clear, bits 8-11 the number of
//     offset bits, bits 16-20 the length from the header, 3..18 (18 meaning
//     an extension follows), bits 24-28 the code length plus offset bits;
//   - subtable: subFlag set and the subtable's start index.
//
// Subtables index subBits further bits.
const (
	tableBits = 11
	subFlag   = 1 << 31
	litFlag   = 1 << 4
	// Each prefix of a longer code gets one subtable of 1<<(maxLen-
	// tableBits) entries; there are at most numSymbols such prefixes.
	tableSize = 1<<tableBits + numSymbols<<(maxCodeLen-tableBits)
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

// symEntry returns the single-symbol table entry of sym with code length l.
func symEntry(sym, l int) uint32 {
	if sym < 256 {
		return uint32(sym)<<8 | litFlag | uint32(l)
	}
	s := uint32(sym - 256)
	return (uint32(l)+s>>4)<<24 | (s&15+minMatch)<<16 | (s>>4)<<8 | uint32(l)
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

	// Codes of up to tableBits bits fill the primary table in canonical
	// order, each a run of 1<<(tableBits-l) entries.
	t := d.table[:]
	i, lo := 0, 0
	for l := 1; l <= min(maxLen, tableBits); l++ {
		n := 1 << (tableBits - l)
		for range count[l] {
			fill(t[lo:lo+n], symEntry(int(d.sorted[i]), l))
			lo += n
			i++
		}
	}
	if maxLen <= tableBits {
		d.subBits = 0
		return nil
	}

	// Longer codes share a subtable per tableBits-bit prefix.
	subBits := maxLen - tableBits
	d.subBits = uint(subBits)
	next := 1 << tableBits // next free subtable index
	prefix := -1           // primary index of the current subtable
	code := lo << (maxLen - tableBits)
	for l := tableBits + 1; l <= maxLen; l++ {
		n := 1 << (maxLen - l) // entries per code in a subtable
		for range count[l] {
			if p := code >> subBits; p != prefix {
				prefix = p
				t[p] = subFlag | uint32(next)
				next += 1 << subBits
			}
			sub := int(t[prefix]&^subFlag) + code&(1<<subBits-1)
			fill(t[sub:sub+n], symEntry(int(d.sorted[i]), l))
			code += n
			i++
		}
	}
	return nil
}

func fill(t []uint32, e uint32) {
	for i := range t {
		t[i] = e
	}
}

// Fast-loop margins: it refills with 8-byte loads, writes at most 2
// literals per iteration, and its match copies write whole words, up to
// copySlack bytes past the match's end.
const (
	fastIn    = 8
	fastOut   = 2
	copySlack = 32
)

// words64 returns the 64 stream bits of 8 little-endian bytes: the four
// 16-bit words in order, each most significant bit first.
func words64(b []byte) uint64 {
	const halves = 0x0000ffff0000ffff
	v := bits.RotateLeft64(binary.LittleEndian.Uint64(b), 32)
	return v>>16&halves | v&halves<<16
}

// decodeStream decodes the bit stream src into out, filling it exactly.
//
// The bit buffer holds up to 64 bits, MSB-aligned, so it runs ahead of the
// reference decoder (which holds 16 to 31 bits after each symbol). Before
// reading raw length bytes the words it holds beyond the reference decoder's
// are given back, so raw bytes are read where that decoder would read them.
// Words past the end of src read as zero; a stream whose reference decoder
// would have needed them is corrupt.
//
// decodeFast does most of the work; a careful loop finishes near the ends of
// src and out.
func (d *Decoder) decodeStream(out, src []byte) error {
	table := &d.table
	subBits := d.subBits
	o, pos, buf, nbits, err := decodeFast(table, subBits, out, src)
	if err != nil {
		return err
	}
	size := len(out)
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
		e := table[buf>>(64-tableBits)]
		if int32(e) < 0 {
			e = table[(e&^subFlag)+uint32((buf<<tableBits)>>(64-subBits))]
		}
		l := uint(e & 15)
		buf <<= l
		nbits -= l
		if e&litFlag != 0 {
			out[o] = byte(e >> 8)
			o++
			continue
		}

		length := int(e >> 16 & 31)
		offBits := uint(e>>8) & 15
		if length == 18 {
			// nbits >= 17 here, after a refill and one symbol.
			if buf, nbits, pos, length, err = longLength(buf, nbits, src, pos); err != nil {
				return err
			}
		}
		// nbits >= 16 here: at least 17 after a refill and one symbol, or
		// 16..31 after giving words back.
		offset := int((buf>>1 | 1<<63) >> ((63 - offBits) & 63))
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

// decodeFast decodes from the start of the stream while at least fastIn
// bytes of src and fastOut bytes of out remain, and returns the position
// reached in out and the bit reader's state: next byte of src, the
// unconsumed bits (MSB-aligned, the bits below them zero) and their number.
//
// It refills the bit buffer with one 8-byte load, adding the whole words
// that fit; the uncounted bits below the counted ones are then the true
// next bits of the stream, so a later refill ORs in the same values. They
// are cleared whenever words are given back and before returning.
func decodeFast(table *[tableSize]uint32, subBits uint, out, src []byte) (o, pos int, buf uint64, nbits uint, err error) {
	for o <= len(out)-fastOut && pos <= len(src)-fastIn {
		// Refill to 49..64 bits: enough for two symbols and an offset.
		// nbits < 64 here, as every iteration consumes bits.
		buf |= words64(src[pos:]) >> (nbits & 63)
		k := (64 - nbits) >> 4
		pos += int(2 * k)
		nbits += 16 * k

		e := table[buf>>(64-tableBits)]
		if int32(e) < 0 {
			e = table[(e&^subFlag)+uint32((buf<<tableBits)>>(64-subBits))]
		}
		if e&litFlag != 0 {
			out[o] = byte(e >> 8)
			o++
			l := uint(e & 15)
			buf <<= l
			nbits -= l
			e = table[buf>>(64-tableBits)]
			if int32(e) < 0 {
				e = table[(e&^subFlag)+uint32((buf<<tableBits)>>(64-subBits))]
			}
			if e&litFlag != 0 {
				out[o] = byte(e >> 8)
				o++
				l := uint(e & 15)
				buf <<= l
				nbits -= l
				continue
			}
		}

		// A match; at least 34 bits are left before its symbol.
		l := uint(e & 15)
		length := int(e >> 16 & 31)
		offBits := uint(e>>8) & 15
		var offset int
		if length < 18 {
			// Consume the symbol and the offset bits at once.
			offset = int((buf<<l>>1 | 1<<63) >> ((63 - offBits) & 63))
			n := uint(e >> 24)
			buf <<= n
			nbits -= n
		} else {
			buf <<= l
			nbits -= l
			// Give back the words loaded beyond the reference decoder's.
			ref := 16 + nbits%16
			pos -= int(nbits-ref) / 8
			nbits = ref
			buf &^= ^uint64(0) >> ref
			if pos >= len(src) {
				return 0, 0, 0, 0, corrupt("stream truncated in a match length")
			}
			b := src[pos]
			pos++
			length = int(b) + 18
			if b == 255 {
				if pos+1 >= len(src) {
					return 0, 0, 0, 0, corrupt("stream truncated in a match length")
				}
				length = int(binary.LittleEndian.Uint16(src[pos:])) + minMatch
				pos += 2
			}
			offset = int((buf>>1 | 1<<63) >> ((63 - offBits) & 63))
			buf <<= offBits
			nbits -= offBits
		}
		from := o - offset
		if from < 0 {
			return 0, 0, 0, 0, corrupt("match offset %d before start of chunk at %d", offset, o)
		}
		switch {
		case length > len(out)-o-copySlack:
			if length > len(out)-o {
				return 0, 0, 0, 0, corrupt("match of %d bytes overruns chunk at %d", length, o)
			}
			copyMatch(out[:o+length], o, offset)
		case offset >= 8:
			// Copy 32 bytes, most matches whole, in words. Each word read
			// lies before the word written, so overlapping copies repeat
			// the pattern correctly.
			w := (*[32]byte)(out[o:])
			r := (*[32]byte)(out[from:])
			binary.LittleEndian.PutUint64(w[0:], binary.LittleEndian.Uint64(r[0:]))
			binary.LittleEndian.PutUint64(w[8:], binary.LittleEndian.Uint64(r[8:]))
			binary.LittleEndian.PutUint64(w[16:], binary.LittleEndian.Uint64(r[16:]))
			binary.LittleEndian.PutUint64(w[24:], binary.LittleEndian.Uint64(r[24:]))
			if length > 32 {
				copyWords(out, o+32, from+32, length-32)
			}
		default:
			copyPattern(out, o, offset, length)
		}
		o += length
	}
	buf &^= ^uint64(0) >> (nbits & 63)
	return o, pos, buf, nbits, nil
}

// longLength reads a match length extension after a symbol with length
// header 15, with nbits >= 16 unconsumed bits. It first gives back the words
// loaded beyond the reference decoder's, clearing the bits below the ones
// kept, and returns the updated bit reader state and the match length.
func longLength(buf uint64, nbits uint, src []byte, pos int) (uint64, uint, int, int, error) {
	ref := 16 + nbits%16
	pos -= int(nbits-ref) / 8
	nbits = ref
	buf &^= ^uint64(0) >> ref
	if pos >= len(src) {
		return 0, 0, 0, 0, corrupt("stream truncated in a match length")
	}
	b := src[pos]
	pos++
	if b < 255 {
		return buf, nbits, pos, int(b) + 18, nil
	}
	if pos+1 >= len(src) {
		return 0, 0, 0, 0, corrupt("stream truncated in a match length")
	}
	length := int(binary.LittleEndian.Uint16(src[pos:])) + minMatch
	return buf, nbits, pos + 2, length, nil
}

// copyWords copies n bytes from out[from:] to out[o:] in 8-byte words,
// from at least 8 bytes before o, writing up to 7 bytes more.
func copyWords(out []byte, o, from, n int) {
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(out[o+i:], binary.LittleEndian.Uint64(out[from+i:]))
	}
}

// copyPattern writes a match of length bytes at offset 1..7 to out[o:],
// repeating the offset bytes before o, in 8-byte words: it writes up to 7
// bytes past the match.
func copyPattern(out []byte, o, offset, length int) {
	// Repeat the pattern across a word, then write it at steps of a whole
	// number of periods.
	v := binary.LittleEndian.Uint64(out[o-offset:]) & (1<<(8*offset) - 1)
	for sh := uint(8 * offset); sh < 64; sh *= 2 {
		v |= v << sh
	}
	step := 8 - 8%offset
	for i := 0; i < length; i += step {
		binary.LittleEndian.PutUint64(out[o+i:], v)
	}
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
