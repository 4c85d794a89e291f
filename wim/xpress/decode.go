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
//   - literal: bits 0-3 the bits consumed, bits 4-5 the number of literals
//     (1 or 2, when a second literal's code fits in the remaining index
//     bits), bits 8-23 the literal bytes, first in the low byte, bits 24-27
//     the first literal's code length;
//   - match: bits 0-3 the code length, bits 4-5 zero, bits 8-11 the number of
//     offset bits, bits 16-20 the length from the header, 3..18 (18 meaning
//     an extension follows);
//   - subtable: subFlag set and the subtable's start index.
//
// Subtables index subBits further bits and hold single-symbol entries.
const (
	tableBits = 11
	subFlag   = 1 << 31
	litCount  = 3 << 4
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
		return uint32(l)<<24 | uint32(sym)<<8 | 1<<4 | uint32(l)
	}
	s := uint32(sym - 256)
	return (s&15+minMatch)<<16 | (s>>4)<<8 | uint32(l)
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
		d.pairLiterals()
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
	d.pairLiterals()
	return nil
}

// pairLiterals turns primary entries of a literal into entries of two
// literals where the next code is a literal that also fits in the index.
func (d *Decoder) pairLiterals() {
	t := &d.table
	for i := range 1 << tableBits {
		e := t[i]
		l := uint(e & 15)
		if e&litCount == 0 || int32(e) < 0 || l >= tableBits {
			continue
		}
		// The second literal's entry is indexed by the bits after the
		// first code; t[j] may already be a pair, whose first literal is
		// the one wanted.
		e2 := t[i<<l&(1<<tableBits-1)]
		l2 := uint(e2>>24) & 15
		if e2&litCount == 0 || int32(e2) < 0 || l+l2 > tableBits {
			continue
		}
		t[i] = e&^(0xff<<16|15|litCount) | (e2>>8&0xff)<<16 | 2<<4 | uint32(l+l2)
	}
}

func fill(t []uint32, e uint32) {
	for i := range t {
		t[i] = e
	}
}

// Fast-path margins: the fast loop needs 8 readable bytes of src for a
// refill and writes at most 4 literal bytes per iteration; fast match copies
// write up to 8 bytes past the match's end.
const (
	fastIn     = 8
	fastOut    = 4
	copySlack  = 8
	wordsOrder = 0x0000ffff0000ffff
)

// words64 returns the 64 stream bits of 8 little-endian bytes: the four
// 16-bit words in order, each most significant bit first.
func words64(b []byte) uint64 {
	v := bits.RotateLeft64(binary.LittleEndian.Uint64(b), 32)
	return v>>16&wordsOrder | v&wordsOrder<<16
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
// A fast loop runs while a refill can load 8 bytes at once and the output
// has room for whole-word writes; it may leave stream bits that it has not
// counted in nbits below the counted ones, which are the true next bits of
// the stream. A careful loop, which keeps the uncounted bits zero, finishes.
func (d *Decoder) decodeStream(out, src []byte) error {
	var (
		buf   uint64 // unconsumed bits, MSB-aligned
		nbits uint   // number of unconsumed bits in buf
		pos   int    // next byte of src to load
		o     int    // next byte of out to write
	)
	table := &d.table
	subBits := d.subBits
	size := len(out)
	for o <= size-fastOut && pos <= len(src)-fastIn {
		// Refill to 49..64 bits: enough for two symbols and an offset.
		buf |= words64(src[pos:]) >> (nbits & 63) // nbits < 64 here
		k := (64 - nbits) >> 4
		pos += int(2 * k)
		nbits += 16 * k

		e := table[buf>>(64-tableBits)]
		if int32(e) < 0 {
			e = table[(e&^subFlag)+uint32((buf<<tableBits)>>(64-subBits))]
		}
		if e&litCount != 0 {
			binary.LittleEndian.PutUint16(out[o:], uint16(e>>8))
			o += int(e >> 4 & 3)
			l := uint(e & 15)
			buf <<= l
			nbits -= l
			e = table[buf>>(64-tableBits)]
			if int32(e) < 0 {
				e = table[(e&^subFlag)+uint32((buf<<tableBits)>>(64-subBits))]
			}
			if e&litCount != 0 {
				binary.LittleEndian.PutUint16(out[o:], uint16(e>>8))
				o += int(e >> 4 & 3)
				l := uint(e & 15)
				buf <<= l
				nbits -= l
				continue
			}
		}
		// A match; at least 19 bits are left after its symbol.
		l := uint(e & 15)
		buf <<= l
		nbits -= l
		length := int(e >> 16)
		offBits := uint(e>>8) & 15
		if length == 18 {
			var err error
			if buf, nbits, pos, length, err = longLength(buf, nbits, src, pos); err != nil {
				return err
			}
		}
		offset := int((buf>>1 | 1<<63) >> ((63 - offBits) & 63))
		buf <<= offBits
		nbits -= offBits
		if offset > o {
			return corrupt("match offset %d before start of chunk at %d", offset, o)
		}
		if length > size-o-copySlack {
			if length > size-o {
				return corrupt("match of %d bytes overruns chunk at %d", length, o)
			}
			copyMatch(out[:o+length], o, offset)
		} else {
			copyFast(out, o, offset, length)
		}
		o += length
	}
	buf &^= ^uint64(0) >> nbits

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
		if e&litCount != 0 {
			out[o] = byte(e >> 8)
			o++
			l := uint(e>>24) & 15 // only the first literal when paired
			buf <<= l
			nbits -= l
			continue
		}

		l := uint(e & 15)
		buf <<= l
		nbits -= l
		length := int(e >> 16)
		offBits := uint(e>>8) & 15
		if length == 18 {
			var err error
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
	length := int(uint16(src[pos])|uint16(src[pos+1])<<8) + minMatch
	return buf, nbits, pos + 2, length, nil
}

// copyFast copies a match of length bytes from offset back to out[o:], like
// copyMatch, writing whole 8-byte words: it needs copySlack bytes of out
// after the match, which it may overwrite.
func copyFast(out []byte, o, offset, length int) {
	from := o - offset
	if offset >= 8 {
		// Each word read lies before the word written, so overlapping
		// copies repeat the pattern correctly.
		for i := 0; i < length; i += 8 {
			binary.LittleEndian.PutUint64(out[o+i:], binary.LittleEndian.Uint64(out[from+i:]))
		}
		return
	}
	// Repeat the offset bytes of the pattern across a word, then write it
	// at steps of a whole number of pattern periods.
	v := binary.LittleEndian.Uint64(out[from:]) & (1<<(8*offset) - 1)
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
