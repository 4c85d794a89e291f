// Package xpress implements the XPRESS "LZ77+Huffman" codec ([MS-XCA]) in the
// form WIM files use for compressed chunks: one Huffman block per chunk and
// chunks of at most [MaxChunkSize] bytes.
//
// # Format
//
// A compressed chunk starts with 256 bytes holding the 4-bit code lengths of
// 512 symbols (byte i: low nibble for symbol 2i, high nibble for symbol 2i+1;
// 0 means unused, 15 is the maximum). The lengths must form a complete
// canonical prefix code. A bit stream of 16-bit little-endian words follows,
// each word read from its most significant bit down.
//
// Symbols 0-255 are literal bytes. Symbol 256+s is a match: s&15 is the length
// header (length 3..17, or 15 meaning an extension follows) and s>>4 is the
// number of extra offset bits b, the offset being (1<<b) + the next b bits.
// Length extensions are raw bytes interleaved with the word stream: one byte
// (length-18) or, for lengths of 273 and more, 0xFF followed by a 16-bit
// little-endian length-3. A raw byte is taken from the byte position after
// every word a reference decoder has loaded so far, where that decoder keeps
// two words loaded ahead and loads another whenever fewer than 16 unconsumed
// bits remain. The extension bytes come before the offset bits.
//
// The encoder ends every chunk with one symbol 256, as wimlib and WIMGAPI do;
// the decoder stops when the chunk's known size has been produced and never
// treats 256 as a terminator.
//
// # Contracts
//
// [Encoder] and [Decoder] are reusable and keep all their working memory
// between calls, so encoding and decoding allocate nothing per chunk once
// warmed up, except that Encode and Decode grow dst when it lacks capacity.
// Neither is safe for concurrent use; use one per goroutine.
//
// A chunk that does not shrink comes back from Encode as itself, as long as
// its input. Storing such a chunk uncompressed, and recognizing stored chunks
// when reading (stored size equal to the uncompressed size), is the caller's
// job: Decode always treats its input as compressed.
//
// Decode never panics on malformed input, never reads or writes outside its
// buffers and allocates at most the size it was asked to produce; malformed
// input yields an error wrapping [ErrCorrupt].
package xpress

// MaxChunkSize is the largest chunk Encode and Decode accept: the XPRESS
// block size, which WIM chunk sizes never exceed for this codec.
const MaxChunkSize = 65536

const (
	numSymbols = 512 // 256 literals + 256 match headers
	tableBytes = numSymbols / 2
	maxCodeLen = 15
	minMatch   = 3
	endSymbol  = 256 // appended once after the last item of every chunk
)
