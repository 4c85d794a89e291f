package xpress

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
)

// streamBits sizes the scratch buffer emit writes into: 1<<streamBits
// bytes hold the longest stream of a chunk (MaxChunkSize literals of 15
// bits, about 120 KiB), so emit can mask its positions instead of checking
// them.
const streamBits = 17

// maxSeqs is the most sequences a parse of a chunk gives: one per match of
// at least minMatch bytes, and a run of literals at the end.
const maxSeqs = MaxChunkSize/minMatch + 1

// seq is a run of literals followed by a match (length 0: none).
type seq struct {
	lits   uint32
	length uint32
	offset uint32
	// sym is the match's symbol and, from bit 16, its offset's bit count,
	// set by tally for emit (parseFast leaves it stale).
	sym uint32
}

// Encoder compresses chunks. Its zero value is ready to use, though
// [NewEncoder] is the usual way to get one. An Encoder is reusable and keeps
// its working memory (about 810 KiB) between calls; it is not safe for
// concurrent use.
type Encoder struct {
	win  window
	bt   buckets
	ht   hashTables
	seqs []seq // the last parse's sequences, in seqBuf
	// seqBuf holds the sequences a parse writes. As an array in the
	// Encoder, the parses reach it from e with no register of its own;
	// a pointer to a separate array took one in parseFast's loop, which
	// reloaded it from the stack at every position (callgrind, 30 MB of
	// /usr/bin: parseFast 822M -> 802M instructions).
	seqBuf [maxSeqs]seq
	freq   [numSymbols]uint32
	lens   [numSymbols]uint8
	codes  [numSymbols]uint16
	sym    [numSymbols]uint32 // codes[s]<<8 | lens[s], for emit
	cb     codeBuilder
	bw     bitWriter // finishes emit's stream; holds its slots while raw bytes moved them
	// stream is emit's output before finish copies it out; the 3 bytes
	// past 1<<streamBits take a word or a 4-byte store at the last masked
	// position.
	stream [1<<streamBits + 3]byte
	fast   bool // every chunk gets the single-table parse, parseSingle (NewFastEncoder)
}

// NewEncoder returns an Encoder. It gives text the bucket parse (parseText)
// and other data the hashed one (parseFast), for output within 5% of
// wimlib's.
func NewEncoder() *Encoder {
	return &Encoder{}
}

// NewFastEncoder returns an Encoder that gives every chunk the single-table
// parse (parseSingle), for uses that value speed over the last percents of
// size: on the files of the Debian tree of make bench it encodes 1.55x as
// fast as NewEncoder, for 2.7% more output; on /usr/bin (large C++
// executables), 1.55x as fast for 5.4% more.
func NewFastEncoder() *Encoder {
	e := NewEncoder()
	e.fast = true
	return e
}

// Encode appends the compressed form of src to dst and returns the extended
// slice. It panics if len(src) > MaxChunkSize. When that form would be no
// smaller than src, Encode appends src itself instead: a WIM stores such a
// chunk raw, and the caller, seeing a result as long as src, does so
// without the work of writing a bit stream it would discard (two thirds of
// the time spent on incompressible data). Encode allocates only when dst
// lacks capacity for the result.
func (e *Encoder) Encode(dst, src []byte) []byte { return e.encode(dst, src, false) }

// encode is Encode; with stream set it writes the compressed form even when
// that is larger than src, for tests of the bit stream.
func (e *Encoder) encode(dst, src []byte, stream bool) []byte {
	if len(src) > MaxChunkSize {
		panic(fmt.Sprintf("xpress: chunk of %d bytes exceeds %d", len(src), MaxChunkSize))
	}
	switch {
	case e.fast:
		e.parseSingle(src)
	case textLike(src):
		e.parseText(src)
	default:
		e.parseFast(src)
	}
	return e.finish(dst, src, stream)
}

// finish appends to dst the compressed form of src that e.seqs and e.freq,
// filled by a parse of src, describe, or src itself as encode does.
func (e *Encoder) finish(dst, src []byte, stream bool) []byte {
	nbits, nraw := e.tally()
	used := e.cb.build(&e.freq, &e.lens)
	e.cb.codes(&e.lens, &e.codes)
	// Only used symbols get an entry in e.sym: emit reads no other.
	for _, k := range used {
		s := k & (numSymbols - 1)
		nbits += int(k>>16) * int(e.lens[s])
		e.sym[s] = uint32(e.codes[s])<<8 | uint32(e.lens[s])
	}
	size := tableBytes + streamSize(nbits, nraw)
	if size >= len(src) && !stream {
		return append(dst, src...)
	}
	start := len(dst)
	dst = slices.Grow(dst, size)[:start+size]
	out := dst[start:]
	packLengths(out[:tableBytes], &e.lens)
	if size-tableBytes > 1<<streamBits {
		panic(fmt.Sprintf("xpress: internal error: stream of %d bytes", size-tableBytes))
	}
	if n := e.emit(); n != size-tableBytes {
		panic(fmt.Sprintf("xpress: internal error: stream is %d bytes, expected %d", n, size-tableBytes))
	}
	copy(out[tableBytes:], e.stream[:size-tableBytes])
	return dst
}

// packLengths writes lens into table as the chunk header stores them: two
// 4-bit lengths a byte, the even symbol's in the low half. It packs eight
// lengths at a time (lengths are below 16, so a byte's high half is free).
func packLengths(table []byte, lens *[numSymbols]uint8) {
	for i := 0; i+4 <= len(table); i += 4 {
		x := binary.LittleEndian.Uint64(lens[2*i:])
		x = (x | x>>4) & 0x00FF00FF00FF00FF // byte 2k: lens 2k and 2k+1
		x = (x | x>>8) & 0x0000FFFF0000FFFF
		binary.LittleEndian.PutUint32(table[i:], uint32(x|x>>16))
	}
}

// matchSymbol returns the symbol for a match and its offset's bit count.
func matchSymbol(length, offset uint32) (sym int, offBits uint) {
	offBits = uint(bits.Len32(offset)) - 1
	return endSymbol + int(offBits)<<4 + int(min(length-minMatch, 15)), offBits
}

// skipLiterals counts the byte at p of a chunk of n bytes as a literal and,
// with skip above 0, the skip bytes after it too, and returns the position
// after them: in a long stretch without matches (incompressible data) a
// parse looks at fewer and fewer positions, skip growing with the stretch.
func (e *Encoder) skipLiterals(p, skip, n int) int {
	w, fr := &e.win, &e.freq
	fr[w[uint16(p)]]++
	for end := min(p+1+skip, n); p+1 < end; {
		p++
		fr[w[uint16(p)]]++
	}
	return p + 1
}

// endParse ends a parse of the n-byte chunk in e.win that stopped
// searching at p, with the pending literals from lit: it counts the bytes
// from p on as literals in e.freq and sets e.seqs to seqs, which shares
// e.seqs' backing array, plus a last sequence of the pending literals if
// there are any. It stays out of line: inlined into the two parses, it
// changed their loops' register allocation, for 0.5% more instructions
// in parseFast (callgrind, 8 MB of the bench tree); out of line the
// whole encode takes 0.3% fewer than with the tail written in each.
//
//go:noinline
func (e *Encoder) endParse(seqs []seq, p, lit, n int) {
	for ; p < n; p++ {
		e.freq[e.win[uint16(p)]]++
	}
	if lit < n {
		seqs = append(seqs, seq{lits: uint32(n - lit)})
	}
	e.seqs = seqs
}

// tally adds to e.freq, which a parse left holding the literals' frequencies,
// those of e.seqs' match symbols and the end symbol, and returns the number
// of offset bits and raw length bytes the stream will hold.
func (e *Encoder) tally() (extraBits, nraw int) {
	freq := &e.freq
	seqs := e.seqs
	for i := range seqs {
		q := &seqs[i]
		if q.length == 0 {
			continue
		}
		sym, offBits := matchSymbol(q.length, q.offset)
		q.sym = uint32(sym) | uint32(offBits)<<16
		freq[sym]++
		extraBits += int(offBits)
		if q.length >= 18 {
			nraw++
			if q.length-18 >= 255 {
				nraw += 2
			}
		}
	}
	freq[endSymbol]++
	return extraBits, nraw
}

// emit writes the bit stream for e.seqs and the end symbol into e.stream
// and returns the bytes written. The caller checks that the stream's length,
// which parse and the code lengths imply, is at most 1<<streamBits.
//
// It is bitWriter unrolled into locals: bits gather in a 64-bit accumulator
// and go out 32 at a time (two words, to the two reserved slots), which gives
// the same layout as writing each word once 17 bits are pending as long as
// no raw byte intervenes; before raw bytes the accumulator is flushed the
// exact way. Positions are masked to the buffer, which costs fewer
// instructions and registers than checking them against a slice's length;
// with the length in bounds the masks change none of them.
//
// The slots are normal, the 4 bytes before pos, except after raw bytes
// until the next 32-bit flush; only then are they kept, in e.bw.slot0 and
// e.bw.slot1 (slot0 is -1 while they are normal). So the loops carry pos
// alone and flush with one store: carrying both slots, which every flush
// changed, cost register moves and stack reloads on every literal pair.
func (e *Encoder) emit() int {
	tab, out := &e.sym, &e.stream
	var (
		acc uint64 // pending bits, right-aligned
		n   uint   // number of pending bits, below 32 between items
		pos = 4    // append position
	)
	e.bw.slot0 = -1
	// Variable shift counts are masked (n&63, offBits&31), bounds they
	// never exceed, so that the compiler need not handle larger counts.
	// Literals load from e.win, the parse's copy of src, whose 16-bit
	// indices need no bounds checks.
	w := &e.win
	p := 0
	seqs := e.seqs
	for i := range seqs {
		q := &seqs[i]
		end := p + int(q.lits)
		for ; p+1 < end; p += 2 {
			a, b := tab[w[uint16(p)]], tab[w[uint16(p+1)]]
			acc = (acc<<(a&15)|uint64(a>>8))<<(b&15) | uint64(b>>8)
			n += uint(a&15 + b&15)
			if n >= 32 {
				n -= 32
				pos = e.put32(uint32(acc>>(n&63)), pos)
			}
		}
		if p < end {
			a := tab[w[uint16(p)]]
			p++
			acc = acc<<(a&15) | uint64(a>>8)
			n += uint(a & 15)
			if n >= 32 {
				n -= 32
				pos = e.put32(uint32(acc>>(n&63)), pos)
			}
		}
		if q.length == 0 {
			continue
		}
		p += int(q.length)
		offBits := uint(q.sym>>16) & 31
		h := tab[q.sym&(numSymbols-1)]
		acc = acc<<(h&15) | uint64(h>>8)
		n += uint(h & 15)
		if q.length >= 18 {
			// Raw bytes move the slots away from pos: keep them in e.bw.
			bw := &e.bw
			slot0, slot1 := pos-4, pos-2
			if bw.slot0 >= 0 {
				slot0, slot1 = bw.slot0, bw.slot1
			}
			for n > 16 {
				n -= 16
				putWord(out, uint16(acc>>(n&63)), slot0)
				slot0, slot1 = slot1, pos
				pos += 2
			}
			m := pos & (1<<streamBits - 1)
			if v := q.length - 18; v < 255 {
				out[m] = byte(v)
				pos++
			} else {
				v = q.length - minMatch
				out[m] = 255
				putWord(out, uint16(v), pos+1)
				pos += 3
			}
			bw.slot0, bw.slot1 = slot0, slot1
		}
		acc = acc<<offBits | uint64(q.offset&(1<<offBits-1))
		n += offBits
		if n >= 32 {
			n -= 32
			pos = e.put32(uint32(acc>>(n&63)), pos)
		}
	}
	h := tab[endSymbol]
	acc = acc<<(h&15) | uint64(h>>8)
	n += uint(h & 15)
	bw := &e.bw
	slot0, slot1 := pos-4, pos-2
	if bw.slot0 >= 0 {
		slot0, slot1 = bw.slot0, bw.slot1
	}
	*bw = bitWriter{out: out[:], acc: acc, n: n, slot0: slot0, slot1: slot1, pos: pos}
	return bw.finish()
}

// put32 writes 32 bits into the reserved slots, reserves two new ones at
// pos, and returns the new pos. It must stay within the inliner's budget
// (cost 76 of 80, go build -gcflags=-m=2): out of line it cost emit 12%
// more instructions. Testing for moved slots first gave 2% fewer than
// testing for normal ones.
func (e *Encoder) put32(v uint32, pos int) int {
	if e.bw.slot0 >= 0 {
		e.putMoved(v)
	} else {
		putNormal(&e.stream, v, pos)
	}
	return pos + 4
}

// putNormal writes 32 bits into normal slots, the 4 bytes before pos: one
// store of the two words, the high one first.
func putNormal(out *[1<<streamBits + 3]byte, v uint32, pos int) {
	binary.LittleEndian.PutUint32(out[(pos-4)&(1<<streamBits-1):], bits.RotateLeft32(v, 16))
}

// putMoved writes 32 bits into slots that raw bytes moved away from pos: it
// writes v into the slots kept in e.bw and marks them normal again.
func (e *Encoder) putMoved(v uint32) {
	putWord(&e.stream, uint16(v>>16), e.bw.slot0)
	putWord(&e.stream, uint16(v), e.bw.slot1)
	e.bw.slot0 = -1
}

// putWord stores v little-endian at position i of out, masked to
// 1<<streamBits.
func putWord(out *[1<<streamBits + 3]byte, v uint16, i int) {
	binary.LittleEndian.PutUint16(out[i&(1<<streamBits-1):], v)
}
