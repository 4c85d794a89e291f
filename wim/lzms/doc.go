// Package lzms implements the LZMS decompressor, and a compressor, in the
// form WIM files use for compressed chunks: one LZMS block per chunk, no
// state carried from one chunk to the next. Non-solid LZMS resources use 128 KiB chunks; solid
// resources (ESD files and wimlib's --solid) use chunks of up to 64 MiB. The
// format is Microsoft's and undocumented; this package follows the behaviour
// of wimlib's decompressor, whose output it reproduces byte for byte. The
// compressor (Encoder, encode.go) writes a subset of the format that
// wimlib's decompressor reads.
//
// # Format
//
// A compressed chunk is a sequence of 16-bit little-endian units (so its size
// is even, and at least 4 bytes) read from both ends at once:
//
//   - From the front, a binary range decoder. Its range starts at 0xFFFFFFFF
//     and its code is the first two units (the first as the high half).
//     Before a bit is decoded, a range below 0x10000 and the code are both
//     shifted left 16 bits and the next unit fills the code's low half. With
//     p/64 the probability of a 0, bound = (range>>6)*p: a code below bound
//     is a 0 and bound becomes the range; otherwise it is a 1 and bound is
//     taken off both range and code.
//   - From the end backwards, Huffman codewords and raw extra bits, each unit
//     read from its most significant bit down.
//
// Every range-coded decision belongs to a class: literal or match (main),
// LZ or delta match, explicit or repeat offset for each kind, and the two
// "which repeat entry" decisions of each kind. A class keeps a state, its
// last 4 (main), 5 (LZ or delta) or 6 (all others) decisions, most recent in
// the low bit, and one adaptive probability per state value. A probability is
// the number of zeros among the last 64 bits decoded with that entry, out of
// 64, used as 1 when it is 0 and 63 when it is 64; every entry starts with
// the history 0x0000000055555555, so 48/64.
//
// Five adaptive canonical Huffman codes give the symbols: literal bytes
// (256 symbols, rebuilt after every 1024 symbols decoded with it), LZ offset
// slots (rebuilt every 1024), length slots (54 symbols, every 512), delta
// offset slots (every 1024) and delta powers (8 symbols, every 512). The two
// offset codes have as many symbols as the slots needed for offsets below
// the chunk's uncompressed size, at most 799. Every symbol starts at
// frequency 1 and each decoded symbol adds 1 to its own. A rebuild makes the
// Huffman code of the current frequencies and then halves every frequency,
// adding 1. The code must be exactly the reference one: symbols sorted by
// frequency then symbol value, the two-queue Huffman construction taking a
// leaf before an internal node of equal frequency, the leaf depths assigned
// in decreasing order along that sorted list, and canonical codewords. No
// codeword exceeds 15 bits (the construction caps depths at 15 the way
// wimlib's does, though LZMS frequencies never get that far).
//
// Each item starts with the main decision: 0 is a literal (a literal
// symbol), 1 a match. A match's next decision is 0 for an LZ match, 1 for a
// delta match; then comes its own kind's explicit (0) or repeat (1)
// decision, and for a repeat one or two more: 0 for entry 0, else 0 for
// entry 1 and 1 for entry 2. A match's length, a length slot plus its extra
// bits, follows its offset in the bit stream. An LZ match copies
// length bytes from offset bytes back; its offset is an offset slot plus
// extra bits, or an entry of a queue of recent offsets. A delta match with
// power p (span 2^p, p = 0..7) and raw offset r (offset r<<p) makes each byte
// as out[i-offset] + out[i-span] - out[i-offset-span]; its power and raw
// offset are read in that order, or the pair comes from a second queue.
// Each queue keeps 3 usable entries and an overflow one, initially 1, 2, 3
// and 4 (delta pairs: power 0 with those raw offsets). The entry used moves
// to the front; an explicit offset is pushed at the front, the overflow entry
// dropping off. A new front entry only becomes usable after one more item:
// while the previous item was a match of the same kind, repeat entry i
// denotes the queue's entry i+1. Overlapping matches copy as if byte by byte.
// A match that reaches before the chunk's start or past its end is corrupt.
//
// After all items, an x86 post-filter undoes the compressor's pre-filter,
// which made the relative 32-bit operands of some x86 instructions absolute
// (operand plus position) where the data looked like code. It scans
// positions 1 to size-17 for these opcodes, the operand following them: E8
// (CALL rel32), FF 15 (CALL [rip+disp32]), F0 83 05 (LOCK ADD
// [rip+disp32]), and 48 or 4C followed by 8D (LEA) or 8B (MOV) and a ModR/M
// byte whose low three bits are 101 (for MOV, only after 48 and with the
// ModR/M's top four bits clear). E9 (JMP rel32) is skipped with its operand
// and never translated. An operand is translated back (its position
// subtracted) when its opcode lies at most 1023 bytes (511 for E8) after
// the last code position. Then its target, the low 16 bits of position plus
// operand, decides confidence: if an operand with the same target ended at
// most 65535 bytes before this one ends, this operand's last byte becomes
// the last code position. Scanning resumes after the operand. Chunks of 17
// bytes or less are not filtered.
//
// # Contracts
//
// A [Decoder] is reusable and keeps all its working memory (about 470 KiB of
// fixed tables) between calls, so decoding allocates nothing per chunk
// except that Decode grows dst when it lacks capacity. It is not safe for
// concurrent use; use one per goroutine.
//
// Decode never panics on malformed input, never reads or writes outside its
// buffers and allocates at most the size it was asked to produce; malformed
// input yields an error wrapping [ErrCorrupt].
//
// Decode accepts exactly the streams wimlib's decompressor accepts, with the
// same output, except two cases no encoder makes: streams that only decode
// by reading past either end of the chunk (wimlib reads zeros there) are
// rejected, and in 2-byte chunks, whose offset codes have a single symbol,
// that symbol is read from one bit, the codeword an encoder would write
// (wimlib's table for that code is left from earlier use; its compressor
// never makes chunks below 4 bytes).
package lzms

// MaxChunkSize is the largest uncompressed chunk Decode accepts: LZMS's
// largest block. Solid WIM resources use 64 MiB chunks.
const MaxChunkSize = 1 << 30

const (
	numLiteralSyms  = 256
	numLengthSyms   = 54
	numPowerSyms    = 8
	maxOffsetSyms   = 799
	maxCodeLen      = 15
	probBits        = 6
	initialHistory  = 0x0000000055555555
	numReps         = 3
	x86MaxReach     = 1023  // bytes after a code position that may be translated
	x86TargetWindow = 65535 // bytes within which a reused target marks code
)

// Rebuild periods of the adaptive codes, in symbols.
const (
	literalPeriod = 1024
	offsetPeriod  = 1024
	lengthPeriod  = 512
	powerPeriod   = 512
)
