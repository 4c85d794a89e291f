package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

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
	db := tempIndex(t)
	if n, err := parsed.addResolved(db); err != nil || n != 3 || len(parsed.streams) != 0 {
		t.Fatalf("with the base in the same object: %d added, %d left: %v", n, len(parsed.streams), err)
	}
	rec, ok, err := db.Stream(s.hash)
	got := rec.Chunks
	if err != nil || !ok || !slices.Equal(got, changed) || rec.Size != s.size {
		t.Fatalf("delta recipe resolved wrong: %v, %v", ok, err)
	}
	alone, _ := parseIndexObject((&indexObject{streams: []indexStream{s}}).encode())
	if n, err := alone.addResolved(tempIndex(t)); n != 0 || len(alone.streams) != 1 || err != nil {
		t.Fatalf("a delta without its base resolved: %d, %v", n, err)
	}
	short := tempIndex(t)
	b := index.NewBatch()
	b.AddStream(base.hash, index.Recipe{Size: 50 * RepoChunkSize, Chunks: base.chunks[:50]})
	if err := short.Apply(b); err != nil {
		t.Fatal(err)
	}
	alone, _ = parseIndexObject((&indexObject{streams: []indexStream{s}}).encode())
	if n, err := alone.addResolved(short); n != 0 || len(alone.streams) != 1 || err != nil {
		t.Fatalf("a delta on a too short base resolved: %d, %v", n, err)
	}
}

// tempIndex opens a new local index in a temporary directory.
func tempIndex(t *testing.T) *index.DB {
	t.Helper()
	db, err := index.Open(filepath.Join(t.TempDir(), "index.db"), "test", index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
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

// TestSyncDeltaMemory: an index object of a few kilobytes whose delta
// recipes each name a large base (here a chain, listed before its base,
// resolving to 200 MiB of chunk ids) is read into the local index in
// bounded memory, and every recipe resolves right.
func TestSyncDeltaMemory(t *testing.T) {
	const n, deltas = 32768, 200
	r := newMemRepo(t)
	putDeltaChain(t, r, n, deltas)
	peak := heapPeak(func() {
		if st, err := r.Sync(t.Context(), nil); err != nil || st.Damaged != 0 {
			t.Fatalf("sync: %+v: %v", st, err)
		}
	})
	t.Logf("sync took %d MiB of heap", peak>>20)
	if peak > 128<<20 { // 800 MiB when the object's recipes were resolved at once
		t.Errorf("sync took %d MiB of heap", peak>>20)
	}
	db, err := r.openIndex(true)
	if err != nil {
		t.Fatal(err)
	}
	defer closeIndex(db)
	for _, i := range []int{1, deltas / 2, deltas} {
		rec, ok, err := db.Stream(index.SHA1{byte(i), byte(i >> 8)})
		if err != nil || !ok || len(rec.Chunks) != n {
			t.Fatalf("delta %d: %d chunks, %v, %v", i, len(rec.Chunks), ok, err)
		}
		for j, c := range rec.Chunks {
			want := index.ID{}
			if j >= 1 && j <= i {
				want = index.ID{byte(j), byte(j >> 8), 1}
			}
			if c != want {
				t.Fatalf("delta %d, chunk %d: %x, want %x", i, j, c[:3], want[:3])
			}
		}
	}
}

// putDeltaChain stores an index object of a few kilobytes: a stream of n
// chunks (one id throughout, so that it compresses to little) and a chain
// of deltas on it, delta i patching chunk i, listed before their bases.
func putDeltaChain(t *testing.T, r *Repo, n, deltas int) {
	t.Helper()
	o := &indexObject{}
	prev := index.SHA1{0xff}
	for i := 1; i <= deltas; i++ {
		h := index.SHA1{byte(i), byte(i >> 8)}
		o.streams = append(o.streams, indexStream{hash: h, size: int64(n) * RepoChunkSize, delta: true, base: prev,
			patches: []patch{{pos: uint64(i), id: index.ID{byte(i), byte(i >> 8), 1}}}})
		prev = h
	}
	slices.Reverse(o.streams)
	o.streams = append(o.streams, indexStream{hash: index.SHA1{0xff}, size: int64(n) * RepoChunkSize, chunks: make([]index.ID, n)})
	id, err := r.putIndexObject(t.Context(), indexPrefix, o)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := r.store.Stat(t.Context(), indexKey(id))
	t.Logf("the index object takes %d bytes", stored.Size)
	if stored.Size > 64<<10 {
		t.Fatalf("the object takes %d bytes", stored.Size)
	}
}

// TestCheckDeltaMemory: check reads the same object in bounded memory,
// working a delta's chunks out only for a stream it checks.
func TestCheckDeltaMemory(t *testing.T) {
	const n, deltas = 32768, 200
	r := newMemRepo(t)
	putDeltaChain(t, r, n, deltas)
	if _, err := r.Sync(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	peak := heapPeak(func() {
		if res, err := r.Check(t.Context(), CheckOptions{}); err != nil {
			t.Fatalf("check: %+v: %v", res, err)
		}
	})
	t.Logf("check took %d MiB of heap", peak>>20)
	if peak > 64<<20 { // 200 MiB when every recipe was expanded
		t.Errorf("check took %d MiB of heap", peak>>20)
	}
}

// heapPeak runs f and returns the most heap it held above what was in
// use before, sampled every millisecond.
func heapPeak(f func()) uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var m runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > before && m.HeapAlloc-before > peak.Load() {
				peak.Store(m.HeapAlloc - before)
			}
		}
	}()
	f()
	close(done)
	return peak.Load()
}

// TestFirstLayoutIndexObject: an index object of the first layout, with
// whole recipes and no kind bytes (wimsnap of 2 December 2026 before
// 3803bd4, under the same magic), parses to the same recipes; check had
// called such a repository damaged ("bad recipe kind") and repair removed
// its snapshots. A recipe of an unknown kind is still refused.
func TestFirstLayoutIndexObject(t *testing.T) {
	chunk := func(i byte) index.ID { return index.ID{0xc0, i} }
	packs := []indexPack{{id: index.ID{0xaa}, entries: []packEntry{
		{id: chunk(1), offset: 0, stored: 100, raw: 200}, {id: chunk(2), offset: 100, stored: 50, raw: 50}}}}
	streams := []indexStream{
		{hash: index.SHA1{1}, size: RepoChunkSize + 7, chunks: []index.ID{chunk(1), chunk(2)}},
		{hash: index.SHA1{2}, size: 3, chunks: []index.ID{chunk(2)}},
	}
	prefix := (&indexObject{packs: packs}).encode() // ends in a stream count of 0
	b := (&indexObject{packs: packs, streams: streams}).encode()
	first := slices.Clone(b[:len(prefix)]) // up to the stream count, 2
	at := len(prefix)
	for _, s := range streams {
		head := 20 + len(binary.AppendUvarint(nil, uint64(s.size)))
		if b[at+head] != 0 {
			t.Fatalf("no kind byte 0 where expected")
		}
		first = append(first, b[at:at+head]...)
		at += head + 1 // without its kind byte
		first = append(first, b[at:at+32*len(s.chunks)]...)
		at += 32 * len(s.chunks)
	}
	o, err := parseIndexObject(first)
	if err != nil {
		t.Fatalf("first layout: %v", err)
	}
	if len(o.streams) != 2 || len(o.packs) != 1 || len(o.packs[0].entries) != 2 {
		t.Fatalf("first layout parsed to %d streams, %d packs", len(o.streams), len(o.packs))
	}
	for i, s := range o.streams {
		if s.hash != streams[i].hash || s.size != streams[i].size || s.delta || !slices.Equal(s.chunks, streams[i].chunks) {
			t.Errorf("stream %d: %+v, want %+v", i, s, streams[i])
		}
	}
	b[len(prefix)+20+len(binary.AppendUvarint(nil, uint64(streams[0].size)))] = 7 // the first stream's kind
	if _, err := parseIndexObject(b); !errors.Is(err, ErrRepoFormat) {
		t.Errorf("a recipe of kind 7: %v, want ErrRepoFormat", err)
	}
}

// TestParseIndexObjectCounts: an index object that declares millions of
// packs, chunks, streams or patches, the bytes after the count all zeros,
// is refused having allocated about what it parsed: each count made room
// for its whole number first (a 57 KB object expanding to 128 MiB of
// zeros allocated 1.3 GB, on every command).
func TestParseIndexObjectCounts(t *testing.T) {
	zeros := make([]byte, 32<<20)
	count := func(n int) []byte { return binary.AppendUvarint(nil, uint64(n)) }
	stream := func(kind byte) []byte {
		b := append(count(0), make([]byte, 20)...) // no packs; a stream's hash
		b = append(b, count(1<<20)...)             // size
		return append(b, kind)
	}
	for name, body := range map[string][]byte{
		"packs":   count(900_000),
		"chunks":  append(append(count(1), make([]byte, 32)...), count(800_000)...),
		"streams": append(count(0), count(1<<20)...),
		"patches": append(append(append(count(0), count(1)...), stream(1)[1:]...), append(make([]byte, 20), count(900_000)...)...),
	} {
		b := append(append([]byte(indexMagic), body...), zeros...)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := parseIndexObject(b)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrRepoFormat) {
			t.Errorf("%s: %v, want it refused", name, err)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
			t.Errorf("%s: the parse allocated %d bytes", name, got)
		}
	}
}
