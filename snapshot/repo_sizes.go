package snapshot

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
)

// An image's stream sizes, kept in the metadata cache after the image's
// bytes, spare the next snapshot a lookup of each stream of its parent in
// the index, and the sort that puts them in the index's order: 0.1 s and
// 24 MB of mapped index pages for /usr. They are listed in the order
// wim.Metadata.Streams visits the image's streams, each with its hash, so
// applying them is one pass over the tree that stops at the first stream
// that does not match. They are trusted only under the index generation
// they were recorded in: streams leave the index only when it is reset,
// which changes the generation, so while it holds every stream listed is
// still in the repository.
//
// Layout, after the image:
//
//	n entries: SHA-1 (20) | size u64 LE      the streams with a hash, in order
//	generation (16) | n u32 LE | CRC-32C u32 LE of all before it | "wsSZ"

const (
	sizeEntryLen  = 20 + 8
	sizeFooterLen = 16 + 4 + 4 + 4
	sizesMagic    = "wsSZ"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// streamSizes is the sizes part of a cached image.
type streamSizes struct {
	gen     index.Generation
	entries []byte // sizeEntryLen each
}

// imageSizes returns the sizes of m's streams, which are about streams in
// number, for recording under a generation.
func imageSizes(m *wim.Metadata, streams int64) streamSizes {
	entries := make([]byte, 0, min(max(streams, 0)+64, 1<<22)*sizeEntryLen)
	m.Streams(func(s *wim.Stream) {
		if !s.Hash.IsZero() {
			entries = append(entries, s.Hash[:]...)
			entries = binary.LittleEndian.AppendUint64(entries, uint64(s.Size))
		}
	})
	return streamSizes{entries: entries}
}

// apply sets the sizes of md's streams and reports whether they all
// matched: md must be the image they were listed from.
func (s streamSizes) apply(md *wim.Metadata) bool {
	e, ok := s.entries, true
	md.Streams(func(st *wim.Stream) {
		if st.Hash.IsZero() || !ok {
			return
		}
		if len(e) < sizeEntryLen || !bytes.Equal(e[:20], st.Hash[:]) {
			ok = false
			return
		}
		st.Size = int64(binary.LittleEndian.Uint64(e[20:]))
		e = e[sizeEntryLen:]
	})
	return ok && len(e) == 0
}

// appendTo appends the encoded sizes to b.
func (s streamSizes) appendTo(b []byte) []byte {
	start := len(b)
	b = append(b, s.entries...)
	b = append(b, s.gen[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s.entries)/sizeEntryLen))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
	return append(b, sizesMagic...)
}

// splitSizes splits a cached file into the image and its sizes. A file
// without sizes is all image; one whose sizes are damaged is not ok.
func splitSizes(b []byte) (img []byte, s streamSizes, ok bool) {
	if len(b) < sizeFooterLen || string(b[len(b)-4:]) != sizesMagic {
		return b, streamSizes{}, true
	}
	foot := b[len(b)-sizeFooterLen:]
	n := int64(binary.LittleEndian.Uint32(foot[16:]))
	size := n*sizeEntryLen + sizeFooterLen
	if size > int64(len(b)) {
		return nil, streamSizes{}, false
	}
	body := b[int64(len(b))-size : len(b)-8]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(foot[20:]) {
		return nil, streamSizes{}, false
	}
	s.entries = body[:n*sizeEntryLen]
	copy(s.gen[:], foot)
	return b[:int64(len(b))-size], s, true
}
