//go:build unix

package snapshot

import (
	"bytes"
	"crypto/sha1"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// sealTree writes a tree of small files and one of several chunks.
func sealTree(t *testing.T, src string, seed uint64) {
	t.Helper()
	files := map[string]string{"big.bin": string(wimtest.RandomBytes(seed, 8*RepoChunkSize))}
	for i, name := range []string{"a.txt", "b.txt", "c/d.txt"} {
		files[name] = strings.Repeat(name, 1000+i)
	}
	writeFiles(t, src, files)
}

// TestExportVouchedByPacks: an export of an undamaged repository expands
// no stream to check it, in a local store (packs hashed as files) and in
// a store that is not (packs hashed as they are fetched), and the WIM
// verifies; once a byte of every pack is flipped, the packs vouch for
// nothing, the streams are read again and expanded, and the export fails
// as before, naming check --read-data, and leaves no WIM.
func TestExportVouchedByPacks(t *testing.T) {
	for name, r := range map[string]*Repo{"local": testRepo(t, wim.CompressXPRESS), "memory": newMemRepo(t)} {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "src")
			sealTree(t, src, 1)
			m := snapshotOK(t, r, src, TakeOptions{}).Manifest
			out := filepath.Join(t.TempDir(), "x.wim")
			st, err := r.Export(t.Context(), []*Manifest{m}, out, ExportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if st.Expanded != 0 || st.Streams < 4 {
				t.Errorf("export of an intact repository: %+v", st)
			}
			if err := wimtest.Open(t, out).Verify(nil); err != nil {
				t.Fatal(err)
			}
			flipPackBytes(t, r)
			bad := filepath.Join(t.TempDir(), "y.wim")
			st, err = r.Export(t.Context(), []*Manifest{m}, bad, ExportOptions{})
			if err == nil || !strings.Contains(err.Error(), "check --read-data") {
				t.Fatalf("export of damaged packs: %v", err)
			}
			if st.Expanded == 0 {
				t.Errorf("export of damaged packs expanded no stream: %+v", st)
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(bad), "*")); len(left) != 0 {
				t.Errorf("export of damaged packs left %q", left)
			}
		})
	}
}

// flipPackBytes flips a byte in the chunks of every pack of r.
func flipPackBytes(t *testing.T, r *Repo) {
	t.Helper()
	packs, err := listIDs(t.Context(), r.store, packPrefix)
	if err != nil || len(packs) == 0 {
		t.Fatalf("packs: %v %d", err, len(packs))
	}
	for id, size := range packs {
		b, err := getRange(t.Context(), r.store, packKey(id), 0, size)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/3] ^= 0x40
		if err := r.store.Put(t.Context(), packKey(id), bytes.NewReader(b), size); err != nil {
			t.Fatal(err)
		}
	}
}

// TestExportDeltaExpanded: a stream whose recipe is a delta on its
// previous version is expanded to check it (no pack vouches for a patch's
// position), the others are not, and the WIM verifies.
func TestExportDeltaExpanded(t *testing.T) {
	r := testRepo(t, wim.CompressXPRESS)
	src := filepath.Join(t.TempDir(), "src")
	sealTree(t, src, 1)
	snapshotOK(t, r, src, TakeOptions{})
	big := wimtest.RandomBytes(1, 8*RepoChunkSize)
	copy(big[3*RepoChunkSize:], wimtest.RandomBytes(2, 100))
	writeFiles(t, src, map[string]string{"big.bin": string(big)})
	m := snapshotOK(t, r, src, TakeOptions{}).Manifest
	db, err := r.syncedIndex(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	rec, ok, err := db.Stream(index.SHA1(sha1.Sum(big)))
	closeIndex(db)
	if err != nil || !ok || rec.Deltas != 1 {
		t.Fatalf("the changed file's recipe: %v %v deltas %d", err, ok, rec.Deltas)
	}
	out := filepath.Join(t.TempDir(), "x.wim")
	st, err := r.Export(t.Context(), []*Manifest{m}, out, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Expanded != 1 {
		t.Errorf("expanded %d streams, want the delta's 1: %+v", st.Expanded, st)
	}
	if err := wimtest.Open(t, out).Verify(nil); err != nil {
		t.Fatal(err)
	}
}

// TestPackSealsVouch: packs vouch for a recipe only at the locations
// their trailers give, with the lengths and codec they give, for a
// recipe of the right size that is not a delta; a pack whose bytes do not
// hash to its id vouches for nothing, in either kind of store.
func TestPackSealsVouch(t *testing.T) {
	for name, r := range map[string]*Repo{"local": testRepo(t, wim.CompressXPRESS), "memory": newMemRepo(t)} {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "src")
			sealTree(t, src, 3)
			snapshotOK(t, r, src, TakeOptions{})
			rec, locs := bigRecipe(t, r, wimtest.RandomBytes(3, 8*RepoChunkSize))
			sound := func(rec index.Recipe, locs []index.Location) bool {
				src := r.newSource(t.Context(), nil)
				defer src.close()
				return newPackSeals(src.packs, r.zstd).sound(rec, locs)
			}
			if !sound(rec, locs) {
				t.Fatal("an intact pack does not vouch for its chunks")
			}
			for what, change := range map[string]func(*index.Recipe, []index.Location){
				"offset":   func(_ *index.Recipe, l []index.Location) { l[2].Offset++ },
				"stored":   func(_ *index.Recipe, l []index.Location) { l[2].Stored-- },
				"codec":    func(_ *index.Recipe, l []index.Location) { l[2].Codec = 2 },
				"pack":     func(_ *index.Recipe, l []index.Location) { l[2].Pack[0]++ },
				"order":    func(_ *index.Recipe, l []index.Location) { l[1], l[2] = l[2], l[1] },
				"chunk id": func(r *index.Recipe, _ []index.Location) { r.Chunks[5][0]++ },
				"size":     func(r *index.Recipe, _ []index.Location) { r.Size-- },
				"delta":    func(r *index.Recipe, _ []index.Location) { r.Deltas = 1 },
			} {
				rec2 := index.Recipe{Size: rec.Size, Chunks: append([]index.ID(nil), rec.Chunks...)}
				locs2 := append([]index.Location(nil), locs...)
				change(&rec2, locs2)
				if sound(rec2, locs2) {
					t.Errorf("vouched for with its %s changed", what)
				}
			}
			flipPackBytes(t, r)
			if sound(rec, locs) {
				t.Error("a damaged pack vouches for its chunks")
			}
		})
	}
}

// bigRecipe returns the recipe of the stream data and its chunks'
// locations, from r's index.
func bigRecipe(t *testing.T, r *Repo, data []byte) (index.Recipe, []index.Location) {
	t.Helper()
	db, err := r.syncedIndex(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer closeIndex(db)
	rec, ok, err := db.Stream(index.SHA1(sha1.Sum(data)))
	if err != nil || !ok {
		t.Fatalf("recipe: %v %v", err, ok)
	}
	var locs []index.Location
	for _, id := range rec.Chunks {
		l, ok, err := db.Chunk(id)
		if err != nil || !ok {
			t.Fatalf("chunk: %v %v", err, ok)
		}
		locs = append(locs, l)
	}
	return rec, locs
}
