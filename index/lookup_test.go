package index

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestStreamSizes: sizes come back in the order asked, 0 for unknown
// streams, whether the hashes are sorted (stepping and seeking past gaps)
// or not.
func TestStreamSizes(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	b := NewBatch()
	var known []SHA1
	for i := range 1000 {
		h := SHA1(sha1.Sum([]byte(strconv.Itoa(i))))
		known = append(known, h)
		b.AddStream(h, Recipe{Size: int64(i + 1)})
	}
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	want := map[SHA1]int64{}
	var ask []SHA1
	for i, h := range known {
		want[h] = int64(i + 1)
		if i%3 != 0 || i > 900 { // gaps longer than the steps taken
			ask = append(ask, h)
		}
	}
	for i := range 50 {
		u := SHA1(sha1.Sum([]byte("unknown" + strconv.Itoa(i))))
		ask = append(ask, u) // want[u] is 0
	}
	check := func(name string, hs []SHA1) {
		t.Helper()
		sizes, err := db.StreamSizes(hs)
		if err != nil || len(sizes) != len(hs) {
			t.Fatalf("%s: %d sizes for %d hashes, %v", name, len(sizes), len(hs), err)
		}
		for i, h := range hs {
			if sizes[i] != want[h] {
				t.Fatalf("%s: size of %x = %d, want %d", name, h, sizes[i], want[h])
			}
		}
	}
	check("unsorted", ask)
	slices.SortFunc(ask, func(a, b SHA1) int { return bytes.Compare(a[:], b[:]) })
	check("sorted", ask)
	check("none", nil)
	check("past the last key", []SHA1{{0xff, 0xff, 0xff}})
}

// TestChunks: locations come back in the order asked, unknown chunks
// marked as such.
func TestChunks(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	b := NewBatch()
	a := Location{Pack: id("p"), Offset: 10, Stored: 5, Raw: 7, Codec: 1}
	c := Location{Pack: id("q"), Offset: 99, Stored: 3, Raw: 3}
	b.AddChunk(id("a"), a)
	b.AddChunk(id("c"), c)
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	locs, known, err := db.Chunks([]ID{id("c"), id("b"), id("a")})
	if err != nil || len(locs) != 3 || !known[0] || known[1] || !known[2] || locs[0] != c || locs[2] != a {
		t.Fatalf("Chunks = %v %v %v", locs, known, err)
	}
}

// testDropEvery is DB.dropEvery in the tests that drop mapped pages: low,
// so that a few thousand reads make several drops.
const testDropEvery = 1024 * seqRead

// TestFilesLookupAcrossDrops: a view's lookups stay right across the drops
// of the mapped pages that every testDropEvery lookups make, in and out of key
// order.
func TestFilesLookupAcrossDrops(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	db.keepMapped, db.dropEvery = 0, testDropEvery // drop pages however small the database, often
	n := 3*testDropEvery/seqRead + 17
	sigs := make([]FileSig, n)
	for i := range sigs {
		sigs[i] = FileSig{Path: fmt.Sprintf("dir%03d/file%06d", i%97, i), Sig: Sig{Size: int64(i), Ino: uint64(i) * 7}}
	}
	b := NewBatch()
	b.SetFiles("src", id("snap"), ID{}, SortFileSigs(slices.Clone(sigs)))
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	f := filesView(t, db, "src")
	for round := range 2 {
		for _, s := range sigs {
			got, ok := f.Lookup([]byte(s.Path))
			if !ok || got != s.Sig {
				t.Fatalf("round %d: %s: %+v %v, want %+v", round, s.Path, got, ok, s.Sig)
			}
		}
		if _, ok := f.Lookup([]byte("dir000/missing")); ok {
			t.Fatal("a missing path was found")
		}
		slices.Reverse(sigs)
	}
}

// TestChunksAcrossDrops: lookups at random keys, and the puts before them,
// read right across many drops of the mapped pages (each counts
// randomRead), in one transaction and in one each.
func TestChunksAcrossDrops(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	db.keepMapped, db.dropEvery = 0, testDropEvery // drop pages however small the database, often
	n := 4 * testDropEvery / seqRead
	ids := make([]ID, n)
	b := NewBatch()
	for i := range ids {
		ids[i] = id(strconv.Itoa(i))
		b.AddChunk(ids[i], Location{Offset: uint64(i), Stored: 1, Raw: 1})
	}
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	locs, known, err := db.Chunks(ids)
	if err != nil {
		t.Fatal(err)
	}
	v := chunkView(t, db)
	for i := range ids {
		l, ok, err := db.Chunk(ids[i])
		if err != nil || !ok || !known[i] || l.Offset != uint64(i) || locs[i] != l {
			t.Fatalf("chunk %d: %+v %v %v, in one transaction %+v %v", i, l, ok, err, locs[i], known[i])
		}
		if vl, ok, err := v.Chunk(ids[i]); err != nil || !ok || vl != l {
			t.Fatalf("chunk %d in a view: %+v %v %v, want %+v", i, vl, ok, err, l)
		}
	}
}

// chunkView opens a view of db's chunks, closed when the test ends.
func chunkView(t *testing.T, db *DB) *ChunkView {
	t.Helper()
	v, err := db.ChunkView()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v
}

// TestChunkView: a view answers as DB.Chunk does, for known and unknown
// chunks, from several goroutines at once (each with its own view), and
// closing it lets a write that grows the database go ahead.
func TestChunkView(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	b := NewBatch()
	want := map[ID]Location{}
	for i := range 500 {
		l := Location{Pack: id("p" + strconv.Itoa(i%7)), Offset: uint64(i) * 100, Stored: uint32(i), Raw: 1000, Codec: uint8(i % 3)}
		want[id(strconv.Itoa(i))] = l
		b.AddChunk(id(strconv.Itoa(i)), l)
	}
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			errs <- viewAnswers(db, want, g)
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// The views are closed: a batch that grows the file far past its
	// mapping is applied (it would wait for an open view).
	big := NewBatch()
	for i := range 20000 {
		big.AddChunk(id("big"+strconv.Itoa(i)), Location{Offset: uint64(i)})
	}
	if err := db.Apply(big); err != nil {
		t.Fatal(err)
	}
	v := chunkView(t, db)
	if l, ok, err := v.Chunk(id("big19999")); err != nil || !ok || l.Offset != 19999 {
		t.Fatalf("a chunk added before the view opened: %+v %v %v", l, ok, err)
	}
}

// viewAnswers checks a view of db against want and unknown chunks, in an
// order that depends on seed.
func viewAnswers(db *DB, want map[ID]Location, seed int) error {
	v, err := db.ChunkView()
	if err != nil {
		return err
	}
	defer func() { _ = v.Close() }()
	for i := range 600 {
		k := id(strconv.Itoa((i*7 + seed*13) % 600)) // 500..599 are unknown
		l, ok, err := v.Chunk(k)
		if err != nil {
			return fmt.Errorf("view %d, chunk %x: %w", seed, k[:4], err)
		}
		if w, known := want[k]; ok != known || l != w {
			return fmt.Errorf("view %d, chunk %x: %+v %v, want %+v %v", seed, k[:4], l, ok, w, known)
		}
	}
	return nil
}

// TestForEachStream: the walk yields the full recipes, then the deltas
// (without a recipe), each once.
func TestForEachStream(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	b := NewBatch()
	b.AddStream(sha("full"), Recipe{Size: 20, Chunks: ids("a", "b")})
	b.AddDelta(sha("delta"), Delta{Size: 20, ChunkCount: 2, Base: sha("full"), Patches: []Patch{{1, id("c")}}})
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := db.ForEachStream(func(h SHA1, r Recipe, full bool) error {
		got = append(got, fmt.Sprintf("%v %v %d", h == sha("full"), full, len(r.Chunks)))
		return nil
	})
	if want := []string{"true true 2", "false false 0"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("ForEachStream: %q, %v; want %q", got, err, want)
	}
}

// TestSmallDatabaseKeepsPages: reads of a database no larger than
// keepMappedSize count toward no drop of its mapped pages, however many.
func TestSmallDatabaseKeepsPages(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	b := NewBatch()
	b.AddChunk(id("a"), Location{Offset: 1, Stored: 1, Raw: 1})
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	for range 2 * dropEveryBytes / randomRead {
		if _, ok, err := db.Chunk(id("a")); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	if n := db.reads.Load(); n != 0 {
		t.Errorf("%d reads counted toward a drop in a database under %d bytes", n, keepMappedSize)
	}
	db.keepMapped = 0
	if _, _, err := db.Chunk(id("a")); err != nil {
		t.Fatal(err)
	}
	if n := db.reads.Load(); n != randomRead {
		t.Errorf("a read of a database above keepMapped counted %d, want %d", n, randomRead)
	}
}

// TestViewFailureRollsBack: a view whose finding fails (bbolt panics on a
// damaged page) reports ErrCorrupt and leaves no read transaction open,
// which would keep Close waiting for ever.
func TestViewFailureRollsBack(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "idx.db"), "repo-a", Options{})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.beginView(func(*bolt.Tx) { panic("a damaged page") })
	if tx != nil || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("beginView = %v, %v; want no transaction and ErrCorrupt", tx, err)
	}
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close still waits: the failed view's transaction is open")
	}
}

// TestLimitMapped: under LimitMapped a database of any size counts its
// reads, in bytes, and drops its mapped pages once they reach the budget;
// resolving a delta counts a random read for each link of its chain.
func TestLimitMapped(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	b := NewBatch()
	b.AddChunk(id("a"), Location{Offset: 1, Stored: 1, Raw: 1})
	b.AddStream(sha("v0"), Recipe{Size: 2, Chunks: ids("a", "a")})
	b.AddDelta(sha("v1"), Delta{Size: 2, ChunkCount: 2, Base: sha("v0"), Patches: []Patch{{1, id("b")}}})
	b.AddDelta(sha("v2"), Delta{Size: 2, ChunkCount: 2, Base: sha("v1"), Patches: []Patch{{0, id("c")}}})
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	db.LimitMapped(4 * randomRead)
	for i := range 3 {
		if _, ok, err := db.Chunk(id("a")); err != nil || !ok {
			t.Fatal(ok, err)
		}
		if n := db.reads.Load(); n != int64(i+1)*randomRead {
			t.Fatalf("after %d random reads: %d bytes counted, want %d", i+1, n, int64(i+1)*randomRead)
		}
	}
	if _, _, err := db.Chunk(id("a")); err != nil {
		t.Fatal(err)
	}
	if n := db.reads.Load(); n != 0 {
		t.Errorf("%d bytes counted after the budget was reached, want a drop (0)", n)
	}
	r, ok, err := db.Stream(sha("v2"))
	if err != nil || !ok || r.Deltas != 2 {
		t.Fatalf("Stream(v2) = %+v %v %v", r, ok, err)
	}
	if n := db.reads.Load(); n != 3*randomRead {
		t.Errorf("a chain of two deltas counted %d bytes, want %d", n, 3*randomRead)
	}
}
