package lzx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// ErrCorrupt is wrapped by every error Decode returns for malformed input.
var ErrCorrupt = errors.New("lzx: corrupt data")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// Primary table sizes: most codewords fit, so subtables are rare.
const (
	mainTableBits    = 11
	lenTableBits     = 9
	alignedTableBits = 7
	preTableBits     = 6
)

// Decoder decompresses the chunks of resources with one chunk size. It is
// reusable and keeps its tables (about 110 KiB) between calls; it is not
// safe for concurrent use.
type Decoder struct {
	order    int
	numMain  int // main code symbols: 256 + 8 * position slots
	main     *huffTable
	length   *huffTable
	aligned  *huffTable
	pre      *huffTable
	mainLens [maxMainSyms]uint8
	lenLens  [numLenSyms]uint8
	alLens   [numAlignedSyms]uint8
	preLens  [numPreSyms]uint8
	br       bitReader
}

// NewDecoder returns a Decoder for chunks of a resource whose chunk size is
// chunkSize, a power of two from MinChunkSize to MaxChunkSize.
func NewDecoder(chunkSize int) (*Decoder, error) {
	order, err := windowOrder(chunkSize)
	if err != nil {
		return nil, err
	}
	n := numChars + numLenHeaders*numSlots[order]
	return &Decoder{
		order:   order,
		numMain: n,
		main:    newHuffTable(n, mainTableBits, maxCodeLen),
		length:  newHuffTable(numLenSyms, lenTableBits, maxCodeLen),
		aligned: newHuffTable(numAlignedSyms, alignedTableBits, 7),
		pre:     newHuffTable(numPreSyms, preTableBits, 15),
	}, nil
}

// Decode appends exactly size decompressed bytes of the compressed chunk src
// to dst and returns the extended slice. size is the chunk's uncompressed
// size, 1 to the Decoder's chunk size. On error the returned slice is dst
// unchanged in length. Decode allocates only when dst lacks capacity for
// size more bytes.
func (d *Decoder) Decode(dst, src []byte, size int) ([]byte, error) {
	if size < 0 || size > 1<<d.order {
		return dst, corrupt("uncompressed size %d out of range for %d-byte chunks", size, 1<<d.order)
	}
	if size == 0 {
		return dst, nil
	}
	start := len(dst)
	dst = slices.Grow(dst, size)
	out := dst[start : start+size]
	translate, err := d.decodeChunk(out, src)
	if err != nil {
		return dst[:start], err
	}
	if translate {
		undoE8(out)
	}
	return dst[:start+size], nil
}

// decodeChunk decodes the blocks of one chunk into out, filling it exactly.
// It reports whether the output may hold an E8 byte, which is not so when
// no block could produce one.
func (d *Decoder) decodeChunk(out, src []byte) (e8 bool, err error) {
	clear(d.mainLens[:])
	clear(d.lenLens[:])
	r := &d.br
	r.load(src)
	reps := [numRepeats]uint32{1, 1, 1}
	for o := 0; o < len(out); {
		r.refill()
		typ := r.read(3)
		size := defaultBlock
		if r.read(1) == 0 {
			size = int(r.read(16))
			if d.order >= 16 {
				size = size<<8 | int(r.read(8))
			}
		}
		if size == 0 || size > len(out)-o {
			return false, corrupt("block of %d bytes at %d in a %d-byte chunk", size, o, len(out))
		}
		switch typ {
		case blockVerbatim, blockAligned:
			if err := d.readCodes(typ == blockAligned); err != nil {
				return false, err
			}
			e8 = e8 || d.mainLens[0xE8] != 0
			if err := d.decodeBlock(out, o, o+size, &reps, typ == blockAligned); err != nil {
				return false, err
			}
		case blockUncompressed:
			e8 = true
			if err := d.copyBlock(out[o:o+size], &reps); err != nil {
				return false, err
			}
		default:
			return false, corrupt("block type %d at %d", typ, o)
		}
		if r.overrun() {
			return false, corrupt("stream truncated in the block at %d", o)
		}
		o += size
	}
	return e8, nil
}

// readCodes reads the code lengths of a compressed block and builds its
// tables: the aligned-offset code first when aligned, then the main code in
// two parts (literals, then match headers) and the length code.
func (d *Decoder) readCodes(aligned bool) error {
	r := &d.br
	if aligned {
		r.refill()
		for i := range d.alLens {
			d.alLens[i] = uint8(r.read(alignedLenBits))
		}
		if err := d.aligned.build(d.alLens[:]); err != nil {
			return fmt.Errorf("aligned offset code: %w", err)
		}
	}
	if err := d.readLens(d.mainLens[:numChars]); err != nil {
		return err
	}
	if err := d.readLens(d.mainLens[numChars:d.numMain]); err != nil {
		return err
	}
	if err := d.main.build(d.mainLens[:d.numMain]); err != nil {
		return fmt.Errorf("main code: %w", err)
	}
	if err := d.readLens(d.lenLens[:]); err != nil {
		return err
	}
	if err := d.length.build(d.lenLens[:]); err != nil {
		return fmt.Errorf("length code: %w", err)
	}
	return nil
}

// readLens reads one group of code lengths, coded with a pretree as
// differences from the group's previous lengths (lens holds them on entry).
// A run past the group's end is cut off, as the reference decoder discards it.
func (d *Decoder) readLens(lens []uint8) error {
	r := &d.br
	r.refill()
	for i := range d.preLens {
		if i == 10 {
			r.refill()
		}
		d.preLens[i] = uint8(r.read(preLenBits))
	}
	if err := d.pre.build(d.preLens[:]); err != nil {
		return fmt.Errorf("pretree: %w", err)
	}
	for i := 0; i < len(lens); {
		r.refill()
		sym := r.decode(d.pre)
		var run int
		var l uint8
		switch {
		case sym < 0:
			return corrupt("invalid pretree codeword")
		case sym <= 16:
			lens[i] = delta(lens[i], sym)
			i++
			continue
		case sym == 17:
			run = 4 + int(r.read(4))
		case sym == 18:
			run = 20 + int(r.read(5))
		default: // 19: a short run of one length
			run = 4 + int(r.read(1))
			s := r.decode(d.pre)
			if s < 0 || s > 17 {
				return corrupt("invalid pretree symbol %d after a same-length run", s)
			}
			l = delta(lens[i], s)
		}
		end := min(i+run, len(lens))
		for ; i < end; i++ {
			lens[i] = l
		}
	}
	if d.br.overrun() {
		return corrupt("stream truncated in the code lengths")
	}
	return nil
}

// delta applies pretree symbol s (0..17) to the previous length prev.
func delta(prev uint8, s int) uint8 { return uint8((int(prev) - s + 17) % 17) }

// copyBlock reads an uncompressed block into out: the bit stream is aligned
// to the next 16-bit boundary (a whole word when already aligned), then come
// the three repeated offsets, the bytes, and a pad byte if their number is
// odd; the bit stream resumes after them.
func (d *Decoder) copyBlock(out []byte, reps *[numRepeats]uint32) error {
	r := &d.br
	p := (r.consumed()/16 + 1) * 2 // byte position after the padding
	end := p + 12 + len(out)
	if end > len(r.src) {
		return corrupt("uncompressed block of %d bytes runs past the end of the %d-byte chunk", len(out), len(r.src))
	}
	for i := range reps {
		v := binary.LittleEndian.Uint32(r.src[p+4*i:])
		if v == 0 {
			return corrupt("repeated offset 0 in an uncompressed block")
		}
		reps[i] = v
	}
	copy(out, r.src[p+12:end])
	r.seek(end + len(out)&1)
	return nil
}
