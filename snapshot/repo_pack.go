package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"io"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
)

// A pack holds chunks back to back, then a zstd-compressed trailer listing
// them, then the trailer's length (u32 little-endian) and packMagic. The
// trailer, expanded, is packTrailerMagic, a uvarint count, and per chunk its
// id (32 bytes), stored length and raw length (uvarints) and codec (one
// byte); chunk offsets follow from the lengths.
const (
	packMagic        = "WSNPACK1"
	packTrailerMagic = "wimsnap pack 1\n"
	packFooterLen    = 4 + len(packMagic)
	// maxPackTrailer bounds a stored trailer (a 64 MiB pack of 32 KiB raw
	// chunks needs ~80 KiB).
	maxPackTrailer = 16 << 20
)

// packEntry is one chunk of a pack.
type packEntry struct {
	id     index.ID
	offset uint64
	stored uint32
	raw    uint32
	codec  uint8
}

// packBuilder writes one pack into a spool file (spool.go), hashing it
// as it goes. Chunks are gathered in buf and written packWriteSize bytes at
// a time: a chunk is about 15 KiB stored, and one write each cost a capture
// thousands of system calls. A write error sticks: add does nothing after
// it, and finish returns it.
type packBuilder struct {
	spool   *spoolFile
	buf     []byte // written to spool when full, and by finish
	sum     hash.Hash
	entries []packEntry
	err     error
	// writeBehind starts the spool file's writeback as it fills: set when
	// the store takes the file itself (a local store links it), whose
	// fsync then finds the data written or on its way rather than writing
	// it all while the run waits for its last pack (23 ms for 32 MiB on
	// the bench machine, against 1). Other stores read the spool and drop
	// it, and most of it need never reach the disk.
	writeBehind bool
}

// packWriteSize is the size of packBuilder's writes to its spool file.
const packWriteSize = 256 << 10

// newPackBuilder starts an empty pack in a spool file in dir. When the
// file cannot be made, the builder holds the error from the start.
func newPackBuilder(dir string) *packBuilder {
	f, err := newSpool(dir)
	return &packBuilder{spool: f, sum: sha256.New(), err: err}
}

// newRepoPack starts an empty pack for r (see newPackBuilder), writing
// behind when r's store takes spool files itself.
func (r *Repo) newRepoPack() *packBuilder {
	p := newPackBuilder(r.spool)
	_, p.writeBehind = r.store.(remote.FilePutter)
	return p
}

// size is the number of bytes of chunks added so far.
func (p *packBuilder) size() int64 {
	if p.spool == nil {
		return 0
	}
	return p.spool.Size() + int64(len(p.buf))
}

// add appends a chunk's stored bytes.
func (p *packBuilder) add(id index.ID, stored []byte, raw int, codec uint8) {
	if p.err != nil {
		return
	}
	p.entries = append(p.entries, packEntry{id: id, offset: uint64(p.size()),
		stored: uint32(len(stored)), raw: uint32(raw), codec: codec})
	p.write(stored)
}

func (p *packBuilder) write(b []byte) {
	if p.err != nil {
		return
	}
	p.sum.Write(b)
	if len(p.buf)+len(b) > packWriteSize {
		p.flush()
	}
	if len(b) >= packWriteSize {
		p.spoolWrite(b)
		return
	}
	if p.buf == nil {
		p.buf = make([]byte, 0, packWriteSize)
	}
	p.buf = append(p.buf, b...)
}

// flush writes what buf holds to the spool file.
func (p *packBuilder) flush() {
	if len(p.buf) > 0 {
		off := p.spool.Size()
		p.spoolWrite(p.buf)
		if p.writeBehind && p.err == nil {
			p.spool.writeBehind(off, int64(len(p.buf)))
		}
		p.buf = p.buf[:0]
	}
}

func (p *packBuilder) spoolWrite(b []byte) {
	if p.err != nil {
		return
	}
	if _, err := p.spool.Write(b); err != nil {
		p.err = fmt.Errorf("writing a pack to the spool: %w", err)
	}
}

// finish appends the trailer and footer and returns the spool file that
// holds the pack, and the pack's id. The caller closes the spool file;
// the builder cannot be used again.
func (p *packBuilder) finish(z *zcodec) (*spoolFile, index.ID, error) {
	p.write(appendPackTrailer(nil, p.entries, z))
	p.flush()
	p.buf = nil
	if p.err != nil {
		p.discard()
		return nil, index.ID{}, p.err
	}
	var id index.ID
	p.sum.Sum(id[:0])
	return p.spool, id, nil
}

// discard drops the pack and its spool file.
func (p *packBuilder) discard() {
	if p.spool != nil {
		_ = p.spool.Close() // a spool file: nothing to lose
	}
}

// appendPackTrailer appends the trailer and footer of a pack whose chunks
// are entries to b.
func appendPackTrailer(b []byte, entries []packEntry, z *zcodec) []byte {
	t := []byte(packTrailerMagic)
	t = binary.AppendUvarint(t, uint64(len(entries)))
	for _, e := range entries {
		t = append(t, e.id[:]...)
		t = binary.AppendUvarint(t, uint64(e.stored))
		t = binary.AppendUvarint(t, uint64(e.raw))
		t = append(t, e.codec)
	}
	zt := z.compress(t)
	b = append(b, zt...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(zt)))
	return append(b, packMagic...)
}

// maxTrailerFor bounds the expanded trailer of a pack whose chunks take
// dataLen bytes: a chunk stores a byte or more, and its entry takes at
// most 53 bytes (id, two uvarints, codec).
func maxTrailerFor(dataLen int64) int64 { return 64 + 53*max(dataLen, 0) }

// parsePackTrailer parses an expanded trailer of a pack whose chunks take
// dataLen bytes.
func parsePackTrailer(t []byte, dataLen uint64) ([]packEntry, error) {
	bad := func(what string) ([]packEntry, error) {
		return nil, fmt.Errorf("%w: pack trailer: %s", ErrRepoFormat, what)
	}
	if !bytes.HasPrefix(t, []byte(packTrailerMagic)) {
		return nil, fmt.Errorf("%w: pack trailer: bad magic", magicErr(t[:min(len(t), len(packTrailerMagic))], packTrailerMagic))
	}
	t = t[len(packTrailerMagic):]
	n, k := binary.Uvarint(t)
	if k <= 0 || n > uint64(len(t))/35 || n > dataLen { // every chunk stores a byte or more
		return bad("bad count")
	}
	t = t[k:]
	entries := make([]packEntry, 0, n)
	var off uint64
	for range n {
		if len(t) < 35 {
			return bad("truncated")
		}
		e := packEntry{id: index.ID(t[:32]), offset: off}
		t = t[32:]
		stored, k1 := binary.Uvarint(t)
		if k1 <= 0 {
			return bad("bad length")
		}
		raw, k2 := binary.Uvarint(t[k1:])
		if k2 <= 0 || len(t) < k1+k2+1 || stored == 0 || stored > raw || raw > RepoChunkSize {
			return bad("bad length")
		}
		e.stored, e.raw, e.codec = uint32(stored), uint32(raw), t[k1+k2]
		t = t[k1+k2+1:]
		off += stored
		entries = append(entries, e)
	}
	if len(t) != 0 || off != dataLen {
		return bad(fmt.Sprintf("chunks cover %d bytes of %d", off, dataLen))
	}
	return entries, nil
}

// readPackTrailer reads the trailer of the pack id, which is size bytes
// long, without reading its chunks.
func (r *Repo) readPackTrailer(ctx context.Context, id index.ID, size int64) ([]packEntry, error) {
	key := packKey(id)
	return packTrailer(r.zstd, key, size, func(off, length int64) ([]byte, error) {
		return getRange(ctx, r.store, key, off, length)
	})
}

// packTrailer reads and parses the trailer of the pack key, size bytes
// long, through read, which returns the length bytes of the pack at off.
func packTrailer(z *zcodec, key string, size int64, read func(off, length int64) ([]byte, error)) ([]packEntry, error) {
	if size < int64(packFooterLen) {
		return nil, fmt.Errorf("%w: pack %s: %d bytes", ErrRepoFormat, key, size)
	}
	foot, err := read(size-int64(packFooterLen), int64(packFooterLen))
	if err != nil {
		return nil, err
	}
	if string(foot[4:]) != packMagic {
		return nil, fmt.Errorf("%w: pack %s: bad magic", magicErr(foot[4:], packMagic), key)
	}
	tl := int64(binary.LittleEndian.Uint32(foot))
	if tl > maxPackTrailer || tl > size-int64(packFooterLen) {
		return nil, fmt.Errorf("%w: pack %s: trailer of %d bytes", ErrRepoFormat, key, tl)
	}
	dataLen := size - int64(packFooterLen) - tl
	zt, err := read(dataLen, tl)
	if err != nil {
		return nil, err
	}
	t, err := z.expand(zt, "pack "+key, maxTrailerFor(dataLen))
	if err != nil {
		return nil, err
	}
	entries, err := parsePackTrailer(t, uint64(dataLen))
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", key, err)
	}
	return entries, nil
}

// getRange reads length bytes of key at off.
func getRange(ctx context.Context, s remote.Store, key string, off, length int64) ([]byte, error) {
	rc, err := s.Get(ctx, key, off, length)
	if err != nil {
		return nil, err
	}
	defer closeRead(rc)
	b := make([]byte, length)
	if _, err := io.ReadFull(rc, b); err != nil {
		return nil, fmt.Errorf("reading %s at %d: %w", key, off, err)
	}
	return b, nil
}

// parsePackBytes parses the trailer of a whole pack in memory.
func parsePackBytes(z *zcodec, data []byte) ([]packEntry, error) {
	if len(data) < packFooterLen {
		return nil, fmt.Errorf("%w: no pack footer", ErrRepoFormat)
	}
	if magic := data[len(data)-len(packMagic):]; string(magic) != packMagic {
		return nil, fmt.Errorf("%w: no pack footer", magicErr(magic, packMagic))
	}
	tl := uint64(binary.LittleEndian.Uint32(data[len(data)-packFooterLen:]))
	if tl > uint64(len(data)-packFooterLen) {
		return nil, fmt.Errorf("%w: trailer of %d bytes", ErrRepoFormat, tl)
	}
	dataLen := uint64(len(data)-packFooterLen) - tl
	t, err := z.expand(data[dataLen:dataLen+tl], "pack trailer", maxTrailerFor(int64(dataLen)))
	if err != nil {
		return nil, err
	}
	return parsePackTrailer(t, dataLen)
}
