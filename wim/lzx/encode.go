package lzx

import (
	"fmt"
	"slices"
)

// Encoder compresses chunks for resources with one chunk size. It is
// reusable and keeps its working memory between calls; it is not safe for
// concurrent use.
type Encoder struct {
	order     int
	numMain   int
	chunkSize int
	win       []byte   // the chunk after E8 translation, plus winPad bytes
	head      []uint32 // hash chain heads, positions plus one
	head3     []uint32 // latest position of each 3-byte hash, plus one
	prev      []uint32 // hash chain links
	items     []item
	cost      costs
	sums      []uint32 // literal cost prefix sums, chunkSize+1 entries

	mainFreq [maxMainSyms]uint32
	lenFreq  [numLenSyms]uint32
	alFreq   [numAlignedSyms]uint32
	mainLens [maxMainSyms]uint8
	lenLens  [numLenSyms]uint8
	alLens   [numAlignedSyms]uint8
	mainCode [maxMainSyms]uint16
	lenCode  [numLenSyms]uint16
	alCode   [numAlignedSyms]uint16
	cl       codeLengths
	pre      preEncoder
	bw       bitWriter
}

// NewEncoder returns an Encoder for chunks of up to chunkSize bytes, a
// power of two from MinChunkSize to MaxChunkSize; a Decoder made for the
// same chunk size decodes its output.
func NewEncoder(chunkSize int) (*Encoder, error) {
	order, err := windowOrder(chunkSize)
	if err != nil {
		return nil, err
	}
	return &Encoder{
		order:     order,
		numMain:   numChars + numLenHeaders*numSlots[order],
		chunkSize: chunkSize,
		win:       make([]byte, chunkSize+winPad),
		head:      make([]uint32, 1<<hash4Bits),
		head3:     make([]uint32, 1<<hashBits),
		prev:      make([]uint32, chunkSize),
		sums:      make([]uint32, chunkSize+1),
	}, nil
}

// Encode appends the compressed form of src to dst and returns the extended
// slice. It panics if len(src) exceeds the Encoder's chunk size. The result
// may be as large as or larger than src; the caller then stores the chunk
// raw. A chunk that the first parse cannot shrink comes back as src itself,
// without a second parse. Encode allocates only when dst lacks capacity for
// the result.
func (e *Encoder) Encode(dst, src []byte) []byte { return e.encode(dst, src, false) }

// encode is Encode; with stream set it writes the compressed form of every
// chunk, for tests of the bit stream.
func (e *Encoder) encode(dst, src []byte, stream bool) []byte {
	n := len(src)
	if n > e.chunkSize {
		panic(fmt.Sprintf("lzx: chunk of %d bytes exceeds %d", n, e.chunkSize))
	}
	if n == 0 {
		return dst
	}
	copy(e.win, src)
	clear(e.win[n : n+winPad])
	doE8(e.win[:n])
	e.cost.fromHist(e, n)
	text := textLike(src)
	depth := firstDepth
	if text {
		depth = textFirstDepth // only its code lengths are kept
	}
	e.parse(n, depth, &e.cost)
	footer := e.tally()
	e.buildCodes()
	if !stream && e.itemBits(footer) >= 8*n {
		return append(dst, src...)
	}
	if text {
		// Text gains most from costs that fit the chunk: parse it again
		// with the first parse's code lengths, and deeper.
		e.cost.fromLens(e)
		e.parse(n, textDepth, &e.cost)
		e.tally()
		e.buildCodes()
	}
	e.bw = bitWriter{out: slices.Grow(dst, n+n/8+2048)}
	e.writeBlock(n)
	out := e.bw.out
	e.bw.out = nil
	return out
}

// textLike reports whether src looks like text: 90% of its first 512 bytes
// printable ASCII or white space (the test wim/xpress makes).
func textLike(src []byte) bool {
	s := src[:min(len(src), 512)]
	t := 0
	for _, b := range s {
		if b >= 0x20 && b < 0x7f || b == '\n' || b == '\t' || b == '\r' {
			t++
		}
	}
	return t*10 >= len(s)*9
}

// tally counts the symbols of e.items and returns the footer bits of their
// offsets as a verbatim block writes them.
func (e *Encoder) tally() (footer int) {
	clear(e.mainFreq[:])
	clear(e.lenFreq[:])
	clear(e.alFreq[:])
	p := 0
	for _, it := range e.items {
		for _, b := range e.win[p : p+int(it.lits)] {
			e.mainFreq[b]++
		}
		p += int(it.lits + it.length)
		if it.length == 0 {
			continue
		}
		n := int(it.length)
		e.mainFreq[mainSymbol(n, it.f)]++
		if n-minMatch >= numLenHeaders-1 {
			e.lenFreq[n-minMatch-(numLenHeaders-1)]++
		}
		slot := slotOf(it.f)
		footer += int(footerBits[slot]) // none for a repeated offset
		if footerBits[slot] >= alignedLenBits {
			e.alFreq[(it.f-2-slotBase[slot])&7]++
		}
	}
	return footer
}

// itemBits estimates the bits of a block of e.items under e's codes: the
// items exactly, verbatim (footer is the offset footer bits tally
// returned), and about 4 bits for each used symbol's length in the code
// tables.
func (e *Encoder) itemBits(footer int) int {
	bits := footer
	for s, f := range e.mainFreq[:e.numMain] {
		bits += int(f) * int(e.mainLens[s])
		if f != 0 {
			bits += 4
		}
	}
	for s, f := range e.lenFreq {
		bits += int(f) * int(e.lenLens[s])
		if f != 0 {
			bits += 4
		}
	}
	return bits
}

// buildCodes makes the main, length and aligned codes from the counts.
func (e *Encoder) buildCodes() {
	e.cl.build(e.mainFreq[:e.numMain], e.mainLens[:e.numMain], maxCodeLen)
	e.cl.build(e.lenFreq[:], e.lenLens[:], maxCodeLen)
	e.cl.build(e.alFreq[:], e.alLens[:], 7)
	canonical(e.mainLens[:e.numMain], e.mainCode[:e.numMain])
	canonical(e.lenLens[:], e.lenCode[:])
	canonical(e.alLens[:], e.alCode[:])
}

// useAligned reports whether an aligned offset block is smaller than a
// verbatim one: it codes the low 3 bits of large offsets with a Huffman
// code (whose lengths cost 24 bits) instead of verbatim.
func (e *Encoder) useAligned() bool {
	verbatim, aligned := 0, 8*alignedLenBits
	for i, f := range e.alFreq {
		verbatim += int(f) * alignedLenBits
		aligned += int(f) * int(e.alLens[i])
	}
	return aligned < verbatim
}

// writeBlock writes the chunk as one block.
func (e *Encoder) writeBlock(n int) {
	w := &e.bw
	aligned := e.useAligned()
	typ := uint32(blockVerbatim)
	if aligned {
		typ = blockAligned
	}
	w.put(typ, 3)
	if n == defaultBlock {
		w.put(1, 1)
	} else {
		w.put(0, 1)
		if e.order >= 16 {
			w.put(uint32(n>>8), 16)
			w.put(uint32(n&0xff), 8)
		} else {
			w.put(uint32(n), 16)
		}
	}
	if aligned {
		for _, l := range e.alLens {
			w.put(uint32(l), alignedLenBits)
		}
	}
	e.pre.write(w, e.mainLens[:numChars], &e.cl)
	e.pre.write(w, e.mainLens[numChars:e.numMain], &e.cl)
	e.pre.write(w, e.lenLens[:], &e.cl)
	e.writeItems(aligned)
	w.flush()
}

// writeItems writes the literals and matches of e.items.
func (e *Encoder) writeItems(aligned bool) {
	w := &e.bw
	p := 0
	for _, it := range e.items {
		for _, b := range e.win[p : p+int(it.lits)] {
			w.put(uint32(e.mainCode[b]), uint(e.mainLens[b]))
		}
		p += int(it.lits + it.length)
		if it.length == 0 {
			continue
		}
		n := int(it.length)
		sym := mainSymbol(n, it.f)
		w.put(uint32(e.mainCode[sym]), uint(e.mainLens[sym]))
		if n-minMatch >= numLenHeaders-1 {
			ls := n - minMatch - (numLenHeaders - 1)
			w.put(uint32(e.lenCode[ls]), uint(e.lenLens[ls]))
		}
		slot := slotOf(it.f)
		if slot < numRepeats {
			continue
		}
		fb := uint(footerBits[slot])
		v := it.f - 2 - slotBase[slot]
		if aligned && fb >= alignedLenBits {
			w.put(v>>alignedLenBits, fb-alignedLenBits)
			w.put(uint32(e.alCode[v&7]), uint(e.alLens[v&7]))
		} else {
			w.put(v, fb)
		}
	}
}
