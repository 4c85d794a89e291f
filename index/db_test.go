package index

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openTest(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(path, "repo-a", Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func id(s string) ID { return ID(sha256.Sum256([]byte(s))) }

// filesView opens the file signatures of source, closed when the test ends.
func filesView(t *testing.T, db *DB, source string) *Files {
	t.Helper()
	f, err := db.Files(source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func TestApplyAndLookup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "idx.db")
	db := openTest(t, path)
	b := NewBatch()
	loc := Location{Pack: id("pack"), Offset: 1 << 40, Stored: 1234, Raw: 32768, Codec: 1}
	b.AddChunk(id("c1"), Location{Pack: id("older")}) // of two locations, the last counts
	b.AddChunk(id("c1"), loc)
	rec := Recipe{Size: 40000, Chunks: []ID{id("c1"), id("c2")}}
	var h SHA1
	copy(h[:], "0123456789abcdefghij")
	b.AddStream(h, rec)
	b.AddIndex(id("idx"))
	b.AddSnapshot(id("snap"), []byte("manifest"), nil)
	sig := Sig{Size: 5, MtimeNs: -7, CtimeNs: 9, Ino: 11, Dev: 13, Mode: 0o100644}
	b.SetFiles("host\x00/src", id("snap"), ID{}, SortFileSigs([]FileSig{{"a/b", Sig{Size: 99}}, {"a/b", sig}})) // the last counts
	if b.Len() != 3 {
		t.Fatalf("Len = %d", b.Len())
	}
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	got, ok, err := db.Chunk(id("c1"))
	if err != nil || !ok || got != loc {
		t.Fatalf("Chunk = %+v %v %v", got, ok, err)
	}
	if _, ok, _ := db.Chunk(id("c2")); ok {
		t.Fatal("unknown chunk found")
	}
	r, ok, err := db.Stream(h)
	if err != nil || !ok || r.Size != rec.Size || len(r.Chunks) != 2 || r.Chunks[1] != id("c2") {
		t.Fatalf("Stream = %+v %v %v", r, ok, err)
	}
	if !db.HasStream(h) || db.HasStream(SHA1{}) {
		t.Fatal("HasStream wrong")
	}
	idx, err := db.Indexes()
	if err != nil || len(idx) != 1 || !idx[id("idx")] {
		t.Fatalf("Indexes = %v %v", idx, err)
	}
	var snaps int
	err = db.Snapshots(func(sid ID, m []byte) error {
		snaps++
		if sid != id("snap") || string(m) != "manifest" {
			t.Errorf("snapshot %x %q", sid, m)
		}
		return nil
	})
	if err != nil || snaps != 1 {
		t.Fatalf("Snapshots: %d %v", snaps, err)
	}
	f, err := db.Files("host\x00/src")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if f.Snapshot != id("snap") {
		t.Fatalf("Files snapshot %x", f.Snapshot)
	}
	if s, ok := f.Lookup([]byte("a/b")); !ok || s != sig {
		t.Fatalf("Lookup = %+v %v", s, ok)
	}
	if _, ok := f.Lookup([]byte("a/c")); ok {
		t.Fatal("unknown path found")
	}
}

func TestSetFilesReplaces(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	for i, paths := range [][]string{{"a", "b"}, {"c"}} {
		sigs := map[string]Sig{}
		for _, p := range paths {
			sigs[p] = Sig{Size: int64(i)}
		}
		b := NewBatch()
		b.SetFiles("src", id(paths[0]), ID{}, fileSigs(sigs))
		if err := db.Apply(b); err != nil {
			t.Fatal(err)
		}
	}
	f := filesView(t, db, "src")
	if _, ok := f.Lookup([]byte("a")); ok {
		t.Error("old signature survived SetFiles")
	}
	if s, ok := f.Lookup([]byte("c")); !ok || s.Size != 1 || f.Snapshot != id("c") {
		t.Errorf("Lookup(c) = %+v %v, snapshot %x", s, ok, f.Snapshot)
	}
	other, err := db.Files("other")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Close() }()
	if _, ok := other.Lookup([]byte("c")); ok || other.Snapshot != (ID{}) {
		t.Error("another source sees signatures")
	}
}

func TestReset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idx.db")
	db := openTest(t, path)
	b := NewBatch()
	b.AddChunk(id("c"), Location{})
	b.AddIndex(id("i"))
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	if err := db.Reset(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := db.Chunk(id("c")); ok {
		t.Error("chunk survived Reset")
	}
	if idx, _ := db.Indexes(); len(idx) != 0 {
		t.Error("index ids survived Reset")
	}
}

// TestResetRepository: what the repository's objects filled goes, the
// file signatures stay.
func TestResetRepository(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	b := NewBatch()
	b.AddChunk(id("c"), Location{})
	b.AddStream(SHA1{1}, Recipe{Size: 1, Chunks: []ID{id("c")}})
	b.AddIndex(id("i"))
	b.AddSnapshot(id("s"), []byte("manifest"), []byte("info"))
	b.SetFiles("host\x00/src", id("s"), ID{}, SortFileSigs([]FileSig{{"a", Sig{Size: 1}}}))
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	if err := db.ResetRepository(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := db.Chunk(id("c")); ok {
		t.Error("chunk survived")
	}
	if db.HasStream(SHA1{1}) {
		t.Error("stream survived")
	}
	if idx, _ := db.Indexes(); len(idx) != 0 {
		t.Error("index ids survived")
	}
	f, err := db.Files("host\x00/src")
	if err != nil {
		t.Fatal(err)
	}
	if sig, ok := f.Lookup([]byte("a")); !ok || sig.Size != 1 || f.Snapshot != id("s") {
		t.Errorf("file signatures lost: %+v %v (snapshot %x)", sig, ok, f.Snapshot)
	}
	_ = f.Close() // a read transaction: the writes below would wait for it
	if got := droppedRecipes(t, db); len(got) != 1 || got[SHA1{1}].Size != 1 || got[SHA1{1}].Chunks[0] != id("c") {
		t.Errorf("dropped recipes %+v, want the one of stream 01", got)
	}
	// The next reset keeps what the index held then, and only that.
	b = NewBatch()
	b.AddStream(SHA1{2}, Recipe{Size: 2, Chunks: []ID{id("d")}})
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	if err := db.ResetRepository(); err != nil {
		t.Fatal(err)
	}
	if got := droppedRecipes(t, db); len(got) != 1 || got[SHA1{2}].Size != 2 {
		t.Errorf("dropped recipes after a second reset %+v, want the one of stream 02", got)
	}
	if err := db.Reset(); err != nil { // a full rebuild keeps them too
		t.Fatal(err)
	}
	if got := droppedRecipes(t, db); len(got) != 1 {
		t.Errorf("dropped recipes after a full reset %+v, want the one of stream 02", got)
	}
}

// droppedRecipes returns what db.DroppedStreams gives.
func droppedRecipes(t *testing.T, db *DB) map[SHA1]Recipe {
	t.Helper()
	got := map[SHA1]Recipe{}
	err := db.DroppedStreams(func(h SHA1, r Recipe) error {
		got[h] = r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "idx.db")
	db, err := Open(path, "repo-a", Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A second writer waits, then gives up with ErrBusy.
	if _, err := Open(path, "repo-a", Options{Timeout: 50 * time.Millisecond}); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "waited 50ms") {
		t.Errorf("second writer: %v, want ErrBusy saying how long it waited", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, "repo-b", Options{}); !errors.Is(err, ErrOtherRepo) {
		t.Errorf("other repo: %v, want ErrOtherRepo", err)
	}
	// Read-only openers share the file.
	r1, err := Open(path, "repo-a", Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Open(path, "repo-a", Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = r1.Close()
	_ = r2.Close()
	if _, err := Open(filepath.Join(dir, "missing.db"), "repo-a", Options{ReadOnly: true}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing read-only: %v", err)
	}

	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not a bbolt file "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(garbage, "repo-a", Options{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("garbage file: %v, want ErrCorrupt", err)
	}
}

func TestNewerVersionRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idx.db")
	db := openTest(t, path)
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(rootBucket).Put(versionKey, binary.BigEndian.AppendUint32(nil, Version+1))
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if _, err := Open(path, "repo-a", Options{}); !errors.Is(err, ErrVersion) {
		t.Fatalf("newer version: %v, want ErrVersion", err)
	}
}

// TestCorruptPages flips bytes all over a populated file: every open or
// lookup either works or fails with an error; none panics.
func TestCorruptPages(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "idx.db")
	db := openTest(t, path)
	b := NewBatch()
	for i := range 2000 {
		b.AddChunk(id(string(rune(i))), Location{Offset: uint64(i)})
	}
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(orig); off += len(orig) / 97 {
		bad := bytes.Clone(orig)
		for i := off; i < min(off+64, len(bad)); i++ {
			bad[i] ^= 0x5a
		}
		p := filepath.Join(dir, "bad.db")
		if err := os.WriteFile(p, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		d, err := Open(p, "repo-a", Options{ReadOnly: true})
		if err != nil {
			continue
		}
		_ = d.ForEachChunk(func(ID, Location) error { return nil })
		_, _, _ = d.Chunk(id("x"))
		if v, err := d.ChunkView(); err == nil {
			for i := range 50 {
				_, _, _ = v.Chunk(id(string(rune(i * 40))))
			}
			_ = v.Close()
		}
		if f, err := d.Files("src"); err == nil {
			_, _ = f.Lookup([]byte("a"))
			_ = f.Close()
		}
		_ = d.Close() // waits for any read transaction a view left open
	}
}

// TestApplyLarge: a batch larger than one transaction takes (chunks,
// streams and file signatures over maxTxKeys each) is applied whole, and a
// second file set for the same source replaces the first.
func TestApplyLarge(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	n := maxTxKeys*2 + 5
	var base ID // the set each round's changes apply to
	for round, snap := range []ID{id("s1"), id("s2")} {
		b := NewBatch()
		sigs := map[string]Sig{}
		for i := range n {
			k := addNumbered(b, i)
			sigs[string(k[:])] = Sig{Size: int64(i + round)}
		}
		b.AddIndex(snap)
		b.SetFiles("src", snap, base, fileSigs(sigs))
		base = snap
		if err := db.Apply(b); err != nil {
			t.Fatal(err)
		}
		f, err := db.Files("src")
		if err != nil {
			t.Fatal(err)
		}
		count := 0
		for k, want := range sigs {
			if s, ok := f.Lookup([]byte(k)); ok && s == want {
				count++
			}
		}
		if f.Snapshot != snap || count != n {
			t.Errorf("round %d: file set of %x with %d of %d signatures", round, f.Snapshot[:4], count, n)
		}
		_ = f.Close()
	}
	// The same signatures again, for a new snapshot: only the marker
	// changes. Then one path fewer: it is gone. Then one more, at the end.
	sigs := map[string]Sig{}
	for i := range n {
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], uint64(i))
		sigs[string(k[:])] = Sig{Size: int64(i + 1)}
	}
	for _, c := range []struct {
		snap      ID
		drop, add bool
	}{{id("s3"), false, false}, {id("s4"), true, false}, {id("s5"), true, true}} {
		b := NewBatch()
		if c.drop {
			delete(sigs, "\x00\x00\x00\x00\x00\x00\x00\x07")
		}
		if c.add {
			sigs["\xff"] = Sig{Size: 1}
		}
		b.SetFiles("src", c.snap, base, fileSigs(sigs))
		base = c.snap
		if err := db.Apply(b); err != nil {
			t.Fatal(err)
		}
		f, err := db.Files("src")
		if err != nil {
			t.Fatal(err)
		}
		_, has7 := f.Lookup([]byte("\x00\x00\x00\x00\x00\x00\x00\x07"))
		if _, hasFF := f.Lookup([]byte("\xff")); hasFF != c.add {
			t.Errorf("file set of %x: the added path present %v, want %v", f.Snapshot[:4], hasFF, c.add)
		}
		last, ok := f.Lookup([]byte(string(binary.BigEndian.AppendUint64(nil, uint64(n-1)))))
		if f.Snapshot != c.snap || !ok || last.Size != int64(n) || has7 == c.drop {
			t.Errorf("file set of %x: last %+v %v, path 7 present %v (dropped %v)", f.Snapshot[:4], last, ok, has7, c.drop)
		}
		_ = f.Close()
	}
	chunks := 0
	if err := db.ForEachChunk(func(ID, Location) error { chunks++; return nil }); err != nil || chunks != n {
		t.Errorf("%d chunks (%v), want %d", chunks, err, n)
	}
	var last SHA1
	binary.BigEndian.PutUint64(last[:], uint64(n-1))
	if r, ok, err := db.Stream(last); err != nil || !ok || r.Size != int64(n-1) {
		t.Errorf("last stream: %+v %v %v", r, ok, err)
	}
}

// addNumbered adds to b chunk i (numberedChunk) at offset i, and stream
// i, whose SHA-1 starts with k (i, 8 bytes big-endian), of i bytes; it
// returns k.
func addNumbered(b *Batch, i int) [8]byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], uint64(i))
	b.AddChunk(numberedChunk(i), Location{Offset: uint64(i), Stored: 1, Raw: 1})
	var h SHA1
	copy(h[:], k[:])
	b.AddStream(h, Recipe{Size: int64(i)})
	return k
}

// numberedChunk is the id of addNumbered's chunk i: the SHA-256 of i, 8
// bytes big-endian.
func numberedChunk(i int) ID {
	return ID(sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i))))
}

// fileSigs lists a map's signatures, taken in the map's (random) order.
func fileSigs(m map[string]Sig) FileSigs {
	var out []FileSig
	for p, s := range m {
		out = append(out, FileSig{p, s})
	}
	return SortFileSigs(out)
}

// TestApplyLastLocationWins: of several locations added for one chunk,
// the last counts, among thousands of chunks added in no order (an
// unstable sort, unlike the insertion sort of a few, would scramble them),
// whether the later location lies before the earlier one in the same pack
// or in a pack whose id sorts first.
func TestApplyLastLocationWins(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	b := NewBatch()
	const n = 3000
	packs := []ID{id("p1"), id("p1"), id("p2"), id("p2")}                           // each round's pack; p2 sorts first
	offset := func(round, k int) uint64 { return uint64((len(packs)-round)*n + k) } // later rounds lie lower
	for round, pack := range packs {
		for i := range n {
			k := (i * 7919) % n // every chunk once per round, scattered
			b.AddChunk(id(fmt.Sprint(k)), Location{Pack: pack, Offset: offset(round, k)})
		}
	}
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	last := len(packs) - 1
	for k := range n {
		l, ok, err := db.Chunk(id(fmt.Sprint(k)))
		if err != nil || !ok || l.Pack != packs[last] || l.Offset != offset(last, k) {
			t.Fatalf("chunk %d: location %+v, %v, %v; want the last, offset %d", k, l, ok, err, offset(last, k))
		}
	}
}

// TestApplyLastRecipeWins: of several recipes added for one stream, the
// last counts, and a delta gives way to a recipe added before or after it.
func TestApplyLastRecipeWins(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	b := NewBatch()
	const n = 2000
	for round := range 3 {
		for i := range n {
			k := (i * 7919) % n
			b.AddStream(sha(fmt.Sprint(k)), Recipe{Size: int64(round), Chunks: make([]ID, round+1)})
		}
		// Looked up after the first rounds, later recipes must replace
		// earlier ones in the lookup too.
		if l, ok := b.StreamLen(sha("5")); !ok || l != int64(round+1) {
			t.Fatalf("round %d: StreamLen = %d %v", round, l, ok)
		}
	}
	b.AddDelta(sha("7"), Delta{Size: 9, ChunkCount: 1, Base: sha("8"), Patches: []Patch{{0, id("x")}}})
	b.AddDelta(sha("d"), Delta{Size: 9, ChunkCount: 1, Base: sha("8"), Patches: []Patch{{0, id("x")}}})
	b.AddStream(sha("d"), Recipe{Size: 2, Chunks: ids("2")})
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"0", "5", "7", "1999"} {
		wantStream(t, db, sha(k), 2, make([]ID, 3))
	}
	wantStream(t, db, sha("d"), 2, ids("2"))
}

// leafFill returns the share of the leaf pages of the data bucket name
// that its keys and values use.
func leafFill(t *testing.T, db *DB, name []byte) float64 {
	t.Helper()
	var s bolt.BucketStats
	if err := db.bolt.View(func(tx *bolt.Tx) error { s = data(tx, name).Stats(); return nil }); err != nil {
		t.Fatal(err)
	}
	return float64(s.LeafInuse) / float64(s.LeafAlloc)
}

// TestApplyFillsAppendedPages checks that keys put after all of a bucket's
// (a first snapshot's) fill its pages, and that keys put among them later
// still go in.
func TestApplyFillsAppendedPages(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	n := maxTxKeys*2 + 5
	add := func(from, to int) {
		b := NewBatch()
		for i := from; i < to; i++ {
			addNumbered(b, i)
		}
		if err := db.Apply(b); err != nil {
			t.Fatal(err)
		}
	}
	add(0, n)
	for _, name := range [][]byte{chunksBucket, streamsBucket} {
		if f := leafFill(t, db, name); f < 0.8 {
			t.Errorf("%s: leaf pages %.2f full after a first batch, want at least 0.8", name, f)
		}
	}
	add(n, n+1000) // chunk ids land all over the bucket, streams at its end
	chunks := 0
	if err := db.ForEachChunk(func(ID, Location) error { chunks++; return nil }); err != nil || chunks != n+1000 {
		t.Errorf("%d chunks (%v), want %d", chunks, err, n+1000)
	}
	for _, i := range []int{0, n - 1, n, n + 999} {
		if l, ok, err := db.Chunk(numberedChunk(i)); err != nil || !ok || l.Offset != uint64(i) {
			t.Errorf("chunk %d: %+v %v %v", i, l, ok, err)
		}
	}
}

// TestKeepDropped: a new file takes, among its dropped recipes, those the
// old one held (dropped or not) that it does not know.
func TestKeepDropped(t *testing.T) {
	dir := t.TempDir()
	old := openTest(t, filepath.Join(dir, "old.db"))
	b := NewBatch()
	b.AddStream(SHA1{1}, Recipe{Size: 1, Chunks: []ID{id("a")}})
	if err := old.Apply(b); err != nil {
		t.Fatal(err)
	}
	if err := old.ResetRepository(); err != nil { // 01 is dropped
		t.Fatal(err)
	}
	b = NewBatch()
	b.AddStream(SHA1{2}, Recipe{Size: 2, Chunks: []ID{id("b")}})
	b.AddStream(SHA1{3}, Recipe{Size: 3, Chunks: []ID{id("c")}})
	if err := old.Apply(b); err != nil {
		t.Fatal(err)
	}
	db := openTest(t, filepath.Join(dir, "new.db"))
	b = NewBatch()
	b.AddStream(SHA1{3}, Recipe{Size: 3, Chunks: []ID{id("c")}})
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	n, err := db.KeepDropped(old)
	if err != nil || n != 2 {
		t.Fatalf("KeepDropped: %d, %v; want 2 (01 and 02; 03 is known)", n, err)
	}
	got := droppedRecipes(t, db)
	if len(got) != 2 || got[SHA1{1}].Size != 1 || got[SHA1{2}].Chunks[0] != id("b") {
		t.Errorf("dropped recipes %+v", got)
	}
}

// TestHugePageCount: a meta page whose checksum holds but whose page count
// no file can have (the mapping it asks is larger than bbolt allows) is
// ErrCorrupt at the first write, which callers rebuild; it failed every
// write as an I/O error.
func TestHugePageCount(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idx.db")
	db := openTest(t, path)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pageSize := int(binary.LittleEndian.Uint32(b[16+8:]))
	for _, off := range []int{16, pageSize + 16} { // the meta of pages 0 and 1
		binary.LittleEndian.PutUint64(b[off+40:], 1<<40) // pgid: 4 PiB of pages
		h := fnv.New64a()
		h.Write(b[off : off+56])
		binary.LittleEndian.PutUint64(b[off+56:], h.Sum64())
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, "repo-a", Options{})
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("open: %v, want ErrCorrupt or success", err)
		}
		return
	}
	defer func() { _ = db.Close() }()
	batch := NewBatch()
	batch.AddStream(SHA1{1}, Recipe{Size: 1, Chunks: []ID{id("a")}})
	if err := db.Apply(batch); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a write: %v, want ErrCorrupt", err)
	}
}
