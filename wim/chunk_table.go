package wim

import (
	"encoding/binary"
	"fmt"
	"io"
)

// chunkTableBlock is how many chunk-table entries are read at a time, so a
// hostile size field never makes the reader allocate a table at once.
const chunkTableBlock = 4096

// chunkTable locates the chunks of one non-solid compressed resource. The
// table is read lazily, a block of entries at a time.
type chunkTable struct {
	r          io.ReaderAt
	res        resHdr
	chunkSize  int64
	n          int64 // number of chunks
	width      int64 // 4 or 8
	tableStart int64 // file offset of the table
	dataStart  int64 // file offset of chunk 0 (of its size prefix when pipable)
	dataSize   int64 // stored bytes of the chunks, without size prefixes
	prefix     int64 // bytes before each chunk: pwmChunkHdrSize when pipable, else 0
	prefixBuf  [pwmChunkHdrSize]byte

	blockFirst int64 // index of the first entry in block, -1 when empty
	block      []int64
	raw        []byte
}

// newChunkTable validates res as a compressed resource with the given chunk
// size and prepares to locate its chunks; pipable selects the layout of a
// pipable WIM (size-prefixed chunks, the table after them).
func newChunkTable(r io.ReaderAt, res resHdr, chunkSize int64, pipable bool) (*chunkTable, error) {
	if chunkSize <= 0 {
		return nil, fmt.Errorf("%w: compressed resource at offset %d in a WIM without compression", ErrFormat, res.offset)
	}
	t := &chunkTable{r: r, res: res, chunkSize: chunkSize, blockFirst: -1, width: 4}
	t.n = (res.size + chunkSize - 1) / chunkSize
	if res.size > 0xFFFFFFFF {
		t.width = 8
	}
	tableBytes := (t.n - 1) * t.width
	overhead := tableBytes
	if pipable {
		t.prefix = pwmChunkHdrSize
		overhead += t.n * t.prefix
	}
	if t.n == 0 || overhead > res.storedSize || tableBytes < 0 {
		return nil, fmt.Errorf("%w: resource at offset %d: chunk table of %d chunks does not fit in %d stored bytes",
			ErrFormat, res.offset, t.n, res.storedSize)
	}
	t.tableStart, t.dataStart = res.offset, res.offset+tableBytes
	if pipable {
		t.tableStart, t.dataStart = res.offset+res.storedSize-tableBytes, res.offset
	}
	t.dataSize = res.storedSize - overhead
	return t, nil
}

// start returns the offset of chunk k (0 <= k <= n) relative to dataStart;
// start(n) is the end of the data.
func (t *chunkTable) start(k int64) (int64, error) {
	if k == 0 {
		return 0, nil
	}
	if k == t.n {
		return t.dataSize, nil
	}
	if t.blockFirst < 0 || k-1 < t.blockFirst || k-1 >= t.blockFirst+int64(len(t.block)) {
		if err := t.load(k - 1); err != nil {
			return 0, err
		}
	}
	return t.block[k-1-t.blockFirst], nil
}

// load reads the block of entries holding entry i (entry i = start of chunk i+1).
func (t *chunkTable) load(i int64) error {
	first := i - i%chunkTableBlock
	count := min(int64(chunkTableBlock), t.n-1-first)
	need := int(count * t.width)
	if cap(t.raw) < need {
		t.raw = make([]byte, need)
	}
	t.raw = t.raw[:need]
	if _, err := t.r.ReadAt(t.raw, t.tableStart+first*t.width); err != nil {
		return fmt.Errorf("%w: resource at offset %d: reading chunk table: %w", ErrFormat, t.res.offset, err)
	}
	t.block = t.block[:0]
	for j := int64(0); j < count; j++ {
		var v int64
		if t.width == 4 {
			v = int64(binary.LittleEndian.Uint32(t.raw[j*4:]))
		} else {
			v = int64(binary.LittleEndian.Uint64(t.raw[j*8:]) & (1<<63 - 1))
		}
		t.block = append(t.block, v)
	}
	t.blockFirst = first
	return nil
}

// size returns the number of bytes chunk k expands to.
func (t *chunkTable) size(k int64) int64 {
	if k == t.n-1 {
		return t.res.size - k*t.chunkSize
	}
	return t.chunkSize
}

// chunk returns the file offset and stored length of chunk k and the size it
// expands to.
func (t *chunkTable) chunk(k int64) (off, stored, size int64, err error) {
	s, err := t.start(k)
	if err != nil {
		return 0, 0, 0, err
	}
	e, err := t.start(k + 1)
	if err != nil {
		return 0, 0, 0, err
	}
	size = t.size(k)
	stored = e - s
	if s < 0 || e > t.dataSize || stored <= 0 || stored > size {
		return 0, 0, 0, fmt.Errorf("%w: resource at offset %d: chunk %d has bad bounds %d..%d (expands to %d, %d stored bytes)",
			ErrFormat, t.res.offset, k, s, e, size, t.dataSize)
	}
	return t.dataStart + s + t.prefix*(k+1), stored, size, nil
}

// checkPrefix checks that the size prefix of chunk k, at file offset off
// with stored bytes, agrees with the chunk table; a resource not in a
// pipable WIM has none.
func (t *chunkTable) checkPrefix(k, off, stored int64) error {
	if t.prefix == 0 {
		return nil
	}
	if _, err := t.r.ReadAt(t.prefixBuf[:], off-t.prefix); err != nil {
		return fmt.Errorf("%w: resource at offset %d: reading the size of chunk %d: %w", ErrFormat, t.res.offset, k, err)
	}
	if got := int64(binary.LittleEndian.Uint32(t.prefixBuf[:])); got != stored {
		return fmt.Errorf("%w: resource at offset %d: chunk %d at offset %d: size prefix %d, the chunk table says %d",
			ErrFormat, t.res.offset, k, off-t.prefix, got, stored)
	}
	return nil
}
