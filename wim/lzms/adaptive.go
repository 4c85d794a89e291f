package lzms

// adaptiveCode is one of the five Huffman codes: its symbol frequencies and
// decoding table, rebuilt after every period symbols it decodes.
type adaptiveCode struct {
	table   huffTable
	numSyms int
	period  int
	left    int // symbols to decode before the next rebuild
	builder *codeBuilder
	freqs   [1 << symBits]uint32 // indexed by a masked symbol
	lens    [maxOffsetSyms]uint8
}

// newAdaptiveCode returns a code of up to maxSyms symbols, rebuilt every
// period symbols, whose table indexes tableBits bits at first.
func newAdaptiveCode(maxSyms, period int, tableBits uint, b *codeBuilder) *adaptiveCode {
	return &adaptiveCode{
		table:   newHuffTable(maxSyms, tableBits),
		period:  period,
		builder: b,
	}
}

// reset starts the code over with numSyms symbols of frequency 1.
func (c *adaptiveCode) reset(numSyms int) {
	c.numSyms = numSyms
	f := c.freqs[:numSyms]
	for i := range f {
		f[i] = 1
	}
	c.build()
}

// rebuild makes the code of the current frequencies, then halves them.
func (c *adaptiveCode) rebuild() {
	c.build()
	f := c.freqs[:c.numSyms]
	for i := range f {
		f[i] = f[i]>>1 + 1
	}
}

// build makes the decoding table for the current frequencies. A code of one
// symbol (the offset codes of 2-byte chunks) decodes every one-bit
// sequence as that symbol, which is the codeword an encoder writes for it;
// an empty one (1-byte chunks) decodes symbol 0 from no bits, and no match
// can use it there.
func (c *adaptiveCode) build() {
	c.left = c.period
	switch c.numSyms {
	case 0:
		c.table.fillAll(0)
	case 1:
		c.table.fillAll(1)
	default:
		lens := c.lens[:c.numSyms]
		c.builder.codeLengths(c.freqs[:c.numSyms], lens)
		c.table.build(lens, c.builder)
	}
}

// count records a decoded symbol.
func (c *adaptiveCode) count(sym uint32) {
	c.freqs[sym&(1<<symBits-1)]++
	c.left--
	if c.left == 0 {
		c.rebuild()
	}
}

// symbol decodes and counts the symbol at the top of buf, which holds at
// least maxCodeLen bits of nbits, and returns it with the bit buffer after
// it.
func (c *adaptiveCode) symbol(buf uint64, nbits uint) (uint32, uint64, uint) {
	sym, buf, nbits := c.table.decode(buf, nbits)
	c.count(sym)
	return sym, buf, nbits
}
