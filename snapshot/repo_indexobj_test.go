package snapshot

import (
	"bytes"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/wimsnap/wimsnap/index"
)

// encode returns the expanded index object (the stores write it as it is
// encoded, with encodeTo).
func (o *indexObject) encode() []byte {
	var buf bytes.Buffer
	_ = o.encodeTo(&buf) // a bytes.Buffer does not fail
	return buf.Bytes()
}

// TestDeltaRecipe: a changed stream stored as a delta of its base parses
// back, resolves to its chunks (also when the base lies in the same
// object, and when the new stream is longer), and is refused when the
// base is unknown or too short.
func TestDeltaRecipe(t *testing.T) {
	ids := func(seed byte, n int) []index.ID {
		out := make([]index.ID, n)
		for i := range out {
			out[i] = index.ID{seed, byte(i), byte(i >> 8)}
		}
		return out
	}
	base := indexStream{hash: index.SHA1{1}, size: 100 * RepoChunkSize, chunks: ids(1, 100)}
	changed := append([]index.ID{}, base.chunks...)
	changed[7] = index.ID{9, 9}
	changed = append(changed, index.ID{8, 8})
	s := indexStream{hash: index.SHA1{2}, size: 100*RepoChunkSize + 5, chunks: changed}
	s.makeDelta(base.hash, base.chunks)
	if !s.delta || len(s.patches) != 2 {
		t.Fatalf("makeDelta: %+v", s.patches)
	}
	other := indexStream{hash: index.SHA1{3}, size: 3 * RepoChunkSize, chunks: ids(3, 3)}
	other.makeDelta(base.hash, base.chunks) // nothing in common: kept whole
	if other.delta {
		t.Fatal("a stream sharing nothing was stored as a delta")
	}
	o := &indexObject{streams: []indexStream{s, base, other}}
	parsed, err := parseIndexObject(o.encode())
	if err != nil {
		t.Fatal(err)
	}
	if parsed.streams[0].chunks != nil {
		t.Fatal("a delta recipe parsed with chunks")
	}
	none := func(index.SHA1) ([]index.ID, bool) { return nil, false }
	if missing := parsed.resolve(none); len(missing) != 0 {
		t.Fatalf("unresolved with the base in the same object: %d", len(missing))
	}
	got := parsed.streams[0].chunks
	if len(got) != len(changed) || got[7] != changed[7] || got[100] != changed[100] || got[50] != changed[50] {
		t.Fatal("delta recipe resolved wrong")
	}
	alone, _ := parseIndexObject((&indexObject{streams: []indexStream{s}}).encode())
	if missing := alone.resolve(none); len(missing) != 1 {
		t.Fatal("a delta without its base resolved")
	}
	short := func(index.SHA1) ([]index.ID, bool) { return base.chunks[:50], true }
	alone, _ = parseIndexObject((&indexObject{streams: []indexStream{s}}).encode())
	if missing := alone.resolve(short); len(missing) != 1 {
		t.Fatal("a delta on a too short base resolved")
	}
}

// TestStreamedObjectsCarrySize: objects compressed as they are encoded
// (index objects, cached images) name their expanded size in the zstd
// frame, as whole-buffer compression does, so that reading one allocates
// it once rather than growing a buffer to its size; a writer given the
// wrong size fails.
func TestStreamedObjectsCarrySize(t *testing.T) {
	z := newZcodec()
	rnd := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 12<<20) // many of the encoder's blocks, compressible
	for i := range data {
		data[i] = "ACGT"[rnd.IntN(4)]
	}
	var out bytes.Buffer
	w := z.writer(&out, int64(len(data)))
	for part := range slices.Chunk(data, RepoChunkSize) {
		if _, err := w.Write(part); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var h zstd.Header
	if err := h.Decode(out.Bytes()); err != nil {
		t.Fatal(err)
	}
	if !h.HasFCS || h.FrameContentSize != uint64(len(data)) {
		t.Errorf("frame names size %d (%v), want %d", h.FrameContentSize, h.HasFCS, len(data))
	}
	back, err := z.expand(out.Bytes(), "test", maxZstdObject)
	if err != nil || !bytes.Equal(back, data) {
		t.Fatalf("expand: %v, or other bytes", err)
	}
	w = z.writer(io.Discard, int64(len(data))+1)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil {
		t.Error("a writer given the wrong size closed without error")
	}
}
