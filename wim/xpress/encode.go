package xpress

import (
	"fmt"
	"math/bits"
	"slices"
)

// Parsing parameters, tuned against wimlib's default XPRESS level: about
// 3% larger output on text and 1% on executables, for 10-15% more speed
// than a search twice as deep.
const (
	searchDepth = 8  // chain entries examined per position
	niceLen     = 48 // a match this long is taken without searching further
	lazyLen     = 16 // a match this long is taken without trying the next position
	// farOffset is the offset beyond which a minimum-length match costs more
	// than the literals it replaces, so it is not used.
	farOffset = 8192
	// Of a match longer than skipAfter, only the last keepTail positions
	// are added to the match finder.
	skipAfter = 256
	keepTail  = 16
	// After 1<<skipShift literals in a row, the parser starts skipping
	// positions, one more for every further 1<<skipShift literals.
	skipShift = 5
)

// seq is a run of literals followed by a match (length 0: none).
type seq struct {
	lits   uint32
	length uint32
	offset uint32
}

// Encoder compresses chunks. Its zero value is ready to use, though
// [NewEncoder] is the usual way to get one. An Encoder is reusable and keeps
// its working memory (about 400 KiB) between calls; it is not safe for
// concurrent use.
type Encoder struct {
	mf    matchFinder
	seqs  []seq
	freq  [numSymbols]uint32
	lens  [numSymbols]uint8
	codes [numSymbols]uint16
	cb    codeBuilder
	bw    bitWriter
}

// NewEncoder returns an Encoder.
func NewEncoder() *Encoder {
	return &Encoder{seqs: make([]seq, 0, MaxChunkSize/minMatch+1)}
}

// Encode appends the compressed form of src to dst and returns the extended
// slice. It panics if len(src) > MaxChunkSize. The result may be as large as
// or larger than src; the caller then stores the chunk raw. Encode allocates
// only when dst lacks capacity for the result.
func (e *Encoder) Encode(dst, src []byte) []byte {
	if len(src) > MaxChunkSize {
		panic(fmt.Sprintf("xpress: chunk of %d bytes exceeds %d", len(src), MaxChunkSize))
	}
	e.parse(src)
	e.freq[endSymbol]++
	e.cb.build(&e.freq, &e.lens)
	canonicalCodes(&e.lens, &e.codes)

	nbits, nraw := e.cost()
	size := tableBytes + streamSize(nbits, nraw)
	start := len(dst)
	dst = slices.Grow(dst, size)[:start+size]
	out := dst[start:]
	for i := range tableBytes {
		out[i] = e.lens[2*i] | e.lens[2*i+1]<<4
	}
	if n := e.emit(out[tableBytes:], src); n != size-tableBytes {
		panic(fmt.Sprintf("xpress: internal error: stream is %d bytes, expected %d", n, size-tableBytes))
	}
	return dst
}

// matchSymbol returns the symbol for a match and its offset's bit count.
func matchSymbol(length, offset uint32) (sym int, offBits uint) {
	offBits = uint(bits.Len32(offset)) - 1
	return endSymbol + int(offBits)<<4 + int(min(length-minMatch, 15)), offBits
}

// parse fills e.seqs with a lazy parse of src and e.freq with the symbol
// frequencies of its items.
func (e *Encoder) parse(src []byte) {
	e.freq = [numSymbols]uint32{}
	if e.seqs == nil {
		e.seqs = make([]seq, 0, MaxChunkSize/minMatch+1)
	}
	seqs := e.seqs[:0]
	mf := &e.mf
	mf.reset()
	freq := &e.freq

	n := len(src)
	last := n - 4 // last position the match finder can hash
	litStart, p, ins := 0, 0, 0
	for p <= last {
		length, offset := mf.find(src, p, searchDepth, niceLen, farOffset)
		ins = p + 1
		if length == 0 {
			// In a long stretch without matches (incompressible data),
			// look at fewer and fewer positions.
			p += 1 + (p-litStart)>>skipShift
			continue
		}
		// Lazy evaluation: prefer a longer match starting one byte later.
		for length < lazyLen && p+1 <= last {
			l2, o2 := mf.find(src, p+1, searchDepth, niceLen, farOffset)
			ins = p + 2
			if l2 <= length {
				break
			}
			p++
			length, offset = l2, o2
		}
		for _, b := range src[litStart:p] {
			freq[b]++
		}
		sym, _ := matchSymbol(uint32(length), uint32(offset))
		freq[sym]++
		seqs = append(seqs, seq{uint32(p - litStart), uint32(length), uint32(offset)})
		p += length
		// Insert the positions the match covers. Inside a long match (a
		// run, or a repeated block) only the last few are worth it, and
		// skipping the rest keeps runs linear and fast.
		end := min(p, last+1)
		if length > skipAfter {
			ins = max(ins, end-keepTail)
		}
		for ; ins < end; ins++ {
			mf.insert(src, ins)
		}
		litStart = p
	}
	if litStart < n {
		for _, b := range src[litStart:] {
			freq[b]++
		}
		seqs = append(seqs, seq{lits: uint32(n - litStart)})
	}
	e.seqs = seqs
}

// cost returns the number of bits and raw bytes the stream will hold.
func (e *Encoder) cost() (nbits, nraw int) {
	for s, f := range e.freq {
		nbits += int(f) * int(e.lens[s])
	}
	for _, q := range e.seqs {
		if q.length == 0 {
			continue
		}
		nbits += bits.Len32(q.offset) - 1
		switch {
		case q.length < 18:
		case q.length-18 < 255:
			nraw++
		default:
			nraw += 3
		}
	}
	return nbits, nraw
}

// emit writes the bit stream for e.seqs and the end symbol into out, which
// must be exactly the size cost implies, and returns the bytes written.
func (e *Encoder) emit(out, src []byte) int {
	w := &e.bw
	w.init(out)
	lens, codes := &e.lens, &e.codes
	p := 0
	for _, q := range e.seqs {
		for _, b := range src[p : p+int(q.lits)] {
			w.put(uint32(codes[b]), uint(lens[b]))
			if w.n > 32 {
				w.flush()
			}
		}
		p += int(q.lits)
		if q.length == 0 {
			continue
		}
		sym, offBits := matchSymbol(q.length, q.offset)
		w.put(uint32(codes[sym]), uint(lens[sym]))
		if q.length >= 18 {
			w.flush()
			if v := q.length - 18; v < 255 {
				w.raw(byte(v))
			} else {
				v = q.length - minMatch
				w.raw(255)
				w.raw(byte(v))
				w.raw(byte(v >> 8))
			}
		}
		w.put(q.offset&(1<<offBits-1), offBits)
		w.flush()
		p += int(q.length)
	}
	w.put(uint32(codes[endSymbol]), uint(lens[endSymbol]))
	return w.finish()
}
