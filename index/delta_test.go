package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func sha(s string) SHA1 {
	full := id(s)
	return SHA1(full[:20])
}

func ids(names ...string) []ID {
	out := make([]ID, len(names))
	for i, n := range names {
		out[i] = id(n)
	}
	return out
}

// wantStream checks that the index resolves h to chunks, with size, and
// counts it in StreamLen, StreamSizes and both HasStreams.
func wantStream(t *testing.T, db *DB, h SHA1, size int64, chunks []ID) {
	t.Helper()
	r, ok, err := db.Stream(h)
	if err != nil || !ok || r.Size != size || !slices.Equal(r.Chunks, chunks) {
		t.Fatalf("Stream(%x) = %d %d chunks %v %v, want %d %d chunks", h[:2], r.Size, len(r.Chunks), ok, err, size, len(chunks))
	}
	if n, ok, err := db.StreamLen(h); err != nil || !ok || n != int64(len(chunks)) {
		t.Errorf("StreamLen = %d %v %v", n, ok, err)
	}
	if sizes, err := db.StreamSizes([]SHA1{h}); err != nil || sizes[0] != size {
		t.Errorf("StreamSizes = %v %v", sizes, err)
	}
	f, err := db.Files("none")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if !db.HasStream(h) || !f.HasStream(h) {
		t.Error("HasStream = false")
	}
}

// TestDeltaChain: deltas that grow, shrink and keep their base's length
// resolve down a chain built over several Applies, and alongside full
// recipes in StreamSizes.
func TestDeltaChain(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	b := NewBatch()
	b.AddStream(sha("v0"), Recipe{Size: 3 * 10, Chunks: ids("a", "b", "c")})
	// v1 grows to 5 chunks, v2 (in the same batch, on v1) shrinks to 2.
	b.AddDelta(sha("v1"), Delta{Size: 45, ChunkCount: 5, Base: sha("v0"),
		Patches: []Patch{{1, id("B")}, {3, id("d")}, {4, id("e")}}})
	b.AddDelta(sha("v2"), Delta{Size: 20, ChunkCount: 2, Base: sha("v1"), Patches: []Patch{{0, id("A")}}})
	if n, ok := b.StreamLen(sha("v1")); !ok || n != 5 {
		t.Fatalf("Batch.StreamLen = %d %v", n, ok)
	}
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	b = NewBatch()
	b.AddDelta(sha("v3"), Delta{Size: 21, ChunkCount: 3, Base: sha("v2"), Patches: []Patch{{2, id("z")}}})
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	wantStream(t, db, sha("v0"), 30, ids("a", "b", "c"))
	wantStream(t, db, sha("v1"), 45, ids("a", "B", "c", "d", "e"))
	wantStream(t, db, sha("v2"), 20, ids("A", "B"))
	wantStream(t, db, sha("v3"), 21, ids("A", "B", "z"))
	hs := []SHA1{sha("v0"), sha("v1"), sha("v2"), sha("v3"), sha("unknown")}
	slices.SortFunc(hs, SHA1.Compare)
	sizes, err := db.StreamSizes(hs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[SHA1]int64{sha("v0"): 30, sha("v1"): 45, sha("v2"): 20, sha("v3"): 21}
	for i, h := range hs {
		if sizes[i] != want[h] {
			t.Errorf("StreamSizes[%x] = %d, want %d", h[:2], sizes[i], want[h])
		}
	}
	if _, ok, err := db.Stream(sha("unknown")); ok || err != nil {
		t.Errorf("unknown stream: %v %v", ok, err)
	}
}

// TestDeltaLongChain: a year of nightly versions, each changing one chunk
// of the last, resolves to the right chunks.
func TestDeltaLongChain(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	want := ids("0", "1", "2", "3", "4", "5", "6", "7")
	b := NewBatch()
	b.AddStream(sha("night0"), Recipe{Size: 8, Chunks: slices.Clone(want)})
	for n := 1; n <= 365; n++ {
		pos := n % len(want)
		want[pos] = id(fmt.Sprint("night", n))
		b.AddDelta(sha(fmt.Sprint("night", n)), Delta{Size: 8, ChunkCount: 8, Base: sha(fmt.Sprint("night", n-1)),
			Patches: []Patch{{int64(pos), want[pos]}}})
	}
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	wantStream(t, db, sha("night365"), 8, want)
}

// putRaw stores value under h in the bucket name, bypassing Batch.
func putRaw(t *testing.T, db *DB, name []byte, h SHA1, value []byte) {
	t.Helper()
	if err := db.bolt.Update(func(tx *bolt.Tx) error { return data(tx, name).Put(h[:], value) }); err != nil {
		t.Fatal(err)
	}
}

// TestDeltaDamaged: a delta the index cannot resolve (base missing, a
// cycle, a patch out of order or past its count, a tail left unset, a
// count far beyond its patches, a short value) is ErrCorrupt, which makes
// the caller rebuild; none panics or allocates by its count.
func TestDeltaDamaged(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	b := NewBatch()
	b.AddStream(sha("base"), Recipe{Size: 2, Chunks: ids("a", "b")})
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	delta := func(count int64, base string, ps ...Patch) []byte {
		return Delta{Size: count, ChunkCount: count, Base: sha(base), Patches: ps}.marshal()
	}
	cases := map[string][]byte{
		"no base":         delta(2, "missing"),
		"cycle":           delta(2, "cycle"),
		"out of order":    delta(2, "base", Patch{1, id("x")}, Patch{0, id("y")}),
		"past its count":  delta(2, "base", Patch{2, id("x")}),
		"tail unset":      delta(4, "base", Patch{3, id("x")}),
		"absurd count":    delta(1<<60, "base", Patch{2, id("x")}),
		"negative count":  delta(-1, "base"),
		"short value":     delta(2, "base")[:30],
		"ragged patches":  append(delta(2, "base"), 1, 2, 3),
		"base is damaged": delta(2, "short value"),
	}
	for name, v := range cases {
		putRaw(t, db, deltasBucket, sha(name), v)
	}
	for name := range cases {
		if _, _, err := db.Stream(sha(name)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Stream: %v, want ErrCorrupt", name, err)
		}
	}
	for _, name := range []string{"short value", "ragged patches"} {
		if _, _, err := db.StreamLen(sha(name)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: StreamLen: %v, want ErrCorrupt", name, err)
		}
		if _, err := db.StreamSizes([]SHA1{sha(name)}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: StreamSizes: %v, want ErrCorrupt", name, err)
		}
	}
}

// TestDeltaKeepsFirstRecipe: a delta for a stream the index already knows
// is not put, so a later object cannot close a cycle of bases; a full
// recipe may replace a delta.
func TestDeltaKeepsFirstRecipe(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	b := NewBatch()
	b.AddStream(sha("x"), Recipe{Size: 2, Chunks: ids("a", "b")})
	b.AddDelta(sha("y"), Delta{Size: 2, ChunkCount: 2, Base: sha("x"), Patches: []Patch{{1, id("c")}}})
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	b = NewBatch()
	b.AddDelta(sha("x"), Delta{Size: 2, ChunkCount: 2, Base: sha("y"), Patches: []Patch{{1, id("b")}}})
	b.AddDelta(sha("y"), Delta{Size: 2, ChunkCount: 2, Base: sha("x"), Patches: []Patch{{0, id("q")}}})
	// In one batch too, a delta does not replace a full recipe.
	b.AddStream(sha("z"), Recipe{Size: 2, Chunks: ids("z", "b")})
	b.AddDelta(sha("z"), Delta{Size: 2, ChunkCount: 2, Base: sha("y"), Patches: []Patch{{0, id("z")}}})
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	wantStream(t, db, sha("x"), 2, ids("a", "b"))
	wantStream(t, db, sha("y"), 2, ids("a", "c"))
	wantStream(t, db, sha("z"), 2, ids("z", "b"))
	if err := db.view(func(tx *bolt.Tx) error {
		if z := sha("z"); deltasOf(tx).Get(z[:]) != nil {
			t.Error("a delta was put beside the full recipe of z")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateVersion1: a version 1 file (no deltas bucket) is read as it is
// when opened read-only, and opened for writing becomes the current
// version with its recipes kept.
func TestMigrateVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idx.db")
	db := openTest(t, path)
	b := NewBatch()
	b.AddStream(sha("old"), Recipe{Size: 2, Chunks: ids("a", "b")})
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	if err := db.bolt.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(rootBucket)
		for _, k := range [][]byte{deltasBucket, snapInfoBucket} {
			if err := root.DeleteBucket(k); err != nil {
				return err
			}
		}
		return root.Put(versionKey, binary.BigEndian.AppendUint32(nil, 1))
	}); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	ro, err := Open(path, "repo-a", Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open of version 1: %v", err)
	}
	wantStream(t, ro, sha("old"), 2, ids("a", "b"))
	if ro.HasStream(sha("new")) {
		t.Error("HasStream of an unknown stream in a version 1 file")
	}
	_ = ro.Close()

	db = openTest(t, path)
	var version uint32
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		version = binary.BigEndian.Uint32(tx.Bucket(rootBucket).Get(versionKey))
		return nil
	})
	if version != Version {
		t.Fatalf("version after a writing open: %d", version)
	}
	b = NewBatch()
	b.AddDelta(sha("new"), Delta{Size: 2, ChunkCount: 2, Base: sha("old"), Patches: []Patch{{0, id("z")}}})
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	wantStream(t, db, sha("old"), 2, ids("a", "b"))
	wantStream(t, db, sha("new"), 2, ids("z", "b"))
}

// FuzzDeltaApply: a delta value of any bytes, on a base of any length,
// resolves or fails with ErrCorrupt; it never panics, and never grows the
// base by more than its patches.
func FuzzDeltaApply(f *testing.F) {
	f.Add(uint16(3), Delta{Size: 5, ChunkCount: 5, Patches: []Patch{{1, id("B")}, {3, id("d")}, {4, id("e")}}}.marshal())
	f.Add(uint16(8), Delta{Size: 2, ChunkCount: 2, Patches: []Patch{{0, id("A")}}}.marshal())
	f.Add(uint16(0), Delta{ChunkCount: 1 << 60}.marshal())
	f.Fuzz(func(t *testing.T, baseLen uint16, value []byte) {
		v := deltaValue(value)
		if !v.ok() {
			return
		}
		base := make([]ID, baseLen)
		out, err := v.apply(base)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if int64(len(out)) != v.chunkCount() || len(out) > int(baseLen)+v.patches() {
			t.Fatalf("%d chunks from a base of %d, count %d and %d patches", len(out), baseLen, v.chunkCount(), v.patches())
		}
	})
}
