// Package lzx implements the LZX codec in the form WIM files use for
// compressed chunks ([MS-PATCH] LZX, as WIMGAPI and wimlib apply it to WIM
// resources).
//
// # Format
//
// Every chunk is an independent LZX stream: the window is the chunk itself,
// the repeated offsets start at 1, 1, 1 and the previous code lengths at
// zero. The window order is that of the resource's chunk size (32 KiB for
// WIMGAPI, up to 2 MiB for wimlib), so a resource's short last chunk still
// uses its full chunks' symbol counts; hence a [Decoder] is made for one chunk
// size. E8 call translation is always on, with a translation size of
// 12000000, and applies to every chunk of more than 10 bytes; there is no
// header bit for it. The stream is 16-bit little-endian words read from
// their most significant bit.
//
// Blocks follow one another until the chunk's uncompressed size is reached:
// 3 bits of type (1 verbatim, 2 aligned offset, 3 uncompressed), one bit set
// for the default size of 32768 or else the size in 16 bits (24 when the
// window order is 16 or more), then for compressed blocks the aligned-offset
// code (aligned blocks only) and the main and length code lengths, coded as
// deltas from the previous block's with a 20-symbol pretree. An uncompressed
// block pads the bit stream to the next 16-bit boundary (a whole word when it
// is already on one), holds the three repeated offsets as 32-bit values and
// its bytes, plus one pad byte when their number is odd.
//
// # Encoder
//
// [Encoder] writes one block per chunk, verbatim or aligned offset,
// whichever is smaller, from a lazy parse (parse.go): at each position the
// best of the matches at the three repeated offsets, the nearest 3-byte
// match and up to 16 entries of a 4-byte hash chain, weighed by the bits it
// saves over literals, is taken unless the next position offers a better
// one. The first parse prices a literal by its frequency in the chunk and
// match symbols by tables of mean code lengths (costs.go); a chunk that
// looks like text is parsed again, 32 entries deep, with the code lengths
// of the first parse, which shrinks text by about 1.5% (binary chunks gain
// a third of that for the same time again). Since a text chunk's first
// parse only prices its second, it examines 4 chain entries, not 16.
//
// On a Debian minbase tree (202 MB in 32 KiB chunks) this costs a third of
// the CPU time of the near-optimal parse (a shortest-path search over every
// position) that it replaced, for 0.7% more output: 95.36 MB instead of
// 94.69 MB. `wimsnap capture --compress=lzx --threads=1` of that tree takes
// 4.9 s of user time (0.3x what it took with the near-optimal parse and
// 0.4x wimlib-imagex's 12.6 s, at its default LZX level with --unix-data
// and --threads=1; medians of 3), for a WIM 1.7% larger than wimlib's (it
// was 1.0%).
//
// # Contracts
//
// [Encoder] and [Decoder] are reusable and keep their working memory between
// calls, so they allocate nothing per chunk once warmed up, except that
// Encode and Decode grow dst when it lacks capacity. Neither is safe for
// concurrent use.
//
// Decode never panics on malformed input, never reads or writes outside its
// buffers and allocates at most the size it was asked to produce; malformed
// input yields an error wrapping [ErrCorrupt].
package lzx

import "fmt"

// MinChunkSize and MaxChunkSize bound the chunk sizes (powers of two) this
// package handles: WIMGAPI writes 32 KiB, wimlib up to 2 MiB.
const (
	MinChunkSize = 1 << minOrder
	MaxChunkSize = 1 << maxOrder
)

const (
	minOrder       = 15
	maxOrder       = 21
	numChars       = 256
	numLenHeaders  = 8 // length headers in a main symbol: 0..6 direct, 7 extended
	numLenSyms     = 249
	numAlignedSyms = 8
	numPreSyms     = 20
	minMatch       = 2
	maxMatch       = minMatch + numLenHeaders - 1 + numLenSyms - 1 // 257
	maxMainSyms    = numChars + numLenHeaders*50
	maxCodeLen     = 16 // main and length codes
	alignedLenBits = 3
	preLenBits     = 4
	defaultBlock   = 32768
	e8Size         = 12000000 // the translation size WIM fixes
	numRepeats     = 3
)

// Block types.
const (
	blockVerbatim     = 1
	blockAligned      = 2
	blockUncompressed = 3
)

// numSlots gives the position slots of each window order 15..21.
var numSlots = [maxOrder + 1]int{15: 30, 16: 32, 17: 34, 18: 36, 19: 38, 20: 42, 21: 50}

// windowOrder returns the window order for chunks of chunkSize bytes.
func windowOrder(chunkSize int) (int, error) {
	for order := minOrder; order <= maxOrder; order++ {
		if chunkSize == 1<<order {
			return order, nil
		}
	}
	return 0, fmt.Errorf("lzx: chunk size %d is not a power of two from %d to %d", chunkSize, MinChunkSize, MaxChunkSize)
}

// slotBase and footerBits describe the position slots: offset = base +
// footer value for slots 3 and up (slots 0-2 are the repeated offsets).
var slotBase, footerBits = slotTables()

func slotTables() (base [50]uint32, bits [50]uint8) {
	for s := 2; s < 50; s++ {
		bits[s] = uint8(min(17, max(0, s/2-1)))
	}
	base[3] = 1
	for s := 3; s < 49; s++ {
		base[s+1] = base[s] + 1<<bits[s]
	}
	return base, bits
}
