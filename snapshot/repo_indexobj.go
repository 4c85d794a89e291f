package snapshot

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/wimsnap/wimsnap/index"
)

// An index object, expanded, is indexMagic, then a uvarint pack count and
// per pack its id (32 bytes), a uvarint chunk count and per chunk its id
// (32 bytes), offset, stored and raw lengths (uvarints) and codec (a byte);
// then a uvarint stream count and per stream its SHA-1 (20 bytes), size
// (uvarint) and the ids of its ceil(size/32 KiB) chunks (32 bytes each).
const indexMagic = "wimsnap index 1\n"

// indexPack lists the chunks of one pack.
type indexPack struct {
	id      index.ID
	entries []packEntry
}

// indexStream is a stream's recipe.
type indexStream struct {
	hash   index.SHA1
	size   int64
	chunks []index.ID
}

// indexObject is the content of one index object.
type indexObject struct {
	id      index.ID // set once stored
	packs   []indexPack
	streams []indexStream
}

func (o *indexObject) encode() []byte {
	b := []byte(indexMagic)
	b = binary.AppendUvarint(b, uint64(len(o.packs)))
	for _, p := range o.packs {
		b = append(b, p.id[:]...)
		b = binary.AppendUvarint(b, uint64(len(p.entries)))
		for _, e := range p.entries {
			b = append(b, e.id[:]...)
			b = binary.AppendUvarint(b, e.offset)
			b = binary.AppendUvarint(b, uint64(e.stored))
			b = binary.AppendUvarint(b, uint64(e.raw))
			b = append(b, e.codec)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(o.streams)))
	for _, s := range o.streams {
		b = append(b, s.hash[:]...)
		b = binary.AppendUvarint(b, uint64(s.size))
		for _, c := range s.chunks {
			b = append(b, c[:]...)
		}
	}
	return b
}

// idxParser reads an expanded index object; the first error sticks.
type idxParser struct {
	b   []byte
	err error
}

func (p *idxParser) fail(what string) {
	if p.err == nil {
		p.err = fmt.Errorf("%w: index object: %s", ErrRepoFormat, what)
	}
	p.b = nil
}

func (p *idxParser) uvarint(max uint64) uint64 {
	v, k := binary.Uvarint(p.b)
	if k <= 0 || v > max {
		p.fail("bad number")
		return 0
	}
	p.b = p.b[k:]
	return v
}

func (p *idxParser) bytes(n int) []byte {
	if len(p.b) < n {
		p.fail("truncated")
		return make([]byte, n)
	}
	v := p.b[:n]
	p.b = p.b[n:]
	return v
}

// count reads a count of items of at least min bytes each, bounded by what
// is left, so a hostile count cannot make parse allocate.
func (p *idxParser) count(min int) int {
	return int(p.uvarint(uint64(len(p.b) / min)))
}

func parseIndexObject(b []byte) (*indexObject, error) {
	if !bytes.HasPrefix(b, []byte(indexMagic)) {
		return nil, fmt.Errorf("%w: index object: bad magic", ErrRepoFormat)
	}
	p := &idxParser{b: b[len(indexMagic):]}
	o := &indexObject{packs: make([]indexPack, p.count(33))}
	for i := range o.packs {
		o.packs[i].id = index.ID(p.bytes(32))
		o.packs[i].entries = make([]packEntry, p.count(36))
		for j := range o.packs[i].entries {
			e := &o.packs[i].entries[j]
			e.id = index.ID(p.bytes(32))
			e.offset = p.uvarint(1 << 62)
			e.stored = uint32(p.uvarint(RepoChunkSize))
			e.raw = uint32(p.uvarint(RepoChunkSize))
			e.codec = p.bytes(1)[0]
			if e.stored == 0 || e.stored > e.raw {
				p.fail("bad chunk length")
			}
		}
	}
	o.streams = make([]indexStream, p.count(22))
	for i := range o.streams {
		s := &o.streams[i]
		s.hash = index.SHA1(p.bytes(20))
		s.size = int64(p.uvarint(1 << 62))
		n := (s.size + RepoChunkSize - 1) / RepoChunkSize
		if s.size == 0 || n > int64(len(p.b)/32) {
			p.fail("bad stream size")
			break
		}
		s.chunks = make([]index.ID, n)
		for j := range s.chunks {
			s.chunks[j] = index.ID(p.bytes(32))
		}
	}
	if p.err == nil && len(p.b) != 0 {
		p.fail("trailing bytes")
	}
	if p.err != nil {
		return nil, p.err
	}
	return o, nil
}

// addTo records the object's chunks and streams in b.
func (o *indexObject) addTo(b *index.Batch) {
	for _, p := range o.packs {
		for _, e := range p.entries {
			b.AddChunk(e.id, index.Location{Pack: p.id, Offset: e.offset, Stored: e.stored, Raw: e.raw, Codec: e.codec})
		}
	}
	for _, s := range o.streams {
		b.AddStream(s.hash, index.Recipe{Size: s.size, Chunks: s.chunks})
	}
}
