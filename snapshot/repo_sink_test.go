//go:build unix

package snapshot

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestSnapshotNoDeltaCycles: after an index object is lost, files are read
// again against a parent whose streams the index no longer has: one
// unchanged (its base is itself) and two that swapped similar contents
// (each the other's base). Their recipes are stored so that they resolve:
// check finds only the first snapshot damaged, and the second restores.
func TestSnapshotNoDeltaCycles(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	r, faulty := faultyRepo(t, filepath.Join(tmp, "cache"))
	must(t, os.MkdirAll(src, 0o755))
	common := wimtest.RandomBytes(7, 8*RepoChunkSize)
	x, y := append(slices.Clone(common), "x"...), append(slices.Clone(common), "y"...)
	writeTestFile(t, filepath.Join(src, "a"), x)
	writeTestFile(t, filepath.Join(src, "b"), y)
	writeTestFile(t, filepath.Join(src, "same"), wimtest.RandomBytes(8, 3*RepoChunkSize))
	snapshotOK(t, r, src, TakeOptions{})
	ids, err := listIDs(t.Context(), faulty, indexPrefix)
	if err != nil {
		t.Fatal(err)
	}
	for id := range ids {
		must(t, faulty.Delete(t.Context(), indexKey(id)))
	}
	writeTestFile(t, filepath.Join(src, "a"), y)
	writeTestFile(t, filepath.Join(src, "b"), x)
	m := snapshotOK(t, r, src, TakeOptions{}).Manifest
	fresh, err := OpenRepo(t.Context(), faulty, RepoOptions{CacheDir: filepath.Join(tmp, "fresh")})
	if err != nil {
		t.Fatal(err)
	}
	res, _ := fresh.Check(t.Context(), CheckOptions{ReadData: true})
	if slices.Contains(res.Damaged, m.ID) || len(res.Damaged) != 1 {
		t.Errorf("check: damaged %q (the new snapshot is %s), problems %q", res.Damaged, m.ShortID(), res.Problems)
	}
	out := filepath.Join(tmp, "out")
	if _, err := fresh.Restore(t.Context(), m, out, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
}

// TestSinkLikeChunks: the chunks of a committed stream named by setLike
// or setBase are taken as stored, without looking them up, where they sit
// at the same position; an unknown stream, none, or a one-chunk stream
// gives none.
func TestSinkLikeChunks(t *testing.T) {
	db, err := index.Open(filepath.Join(t.TempDir(), "idx.db"), "repo", index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer closeIndex(db)
	chunks := []index.ID{{1}, {2}, {3}}
	b := index.NewBatch()
	b.AddStream(index.SHA1{9}, index.Recipe{Size: 3 * RepoChunkSize, Chunks: chunks})
	must(t, db.Apply(b))
	s := &repoSink{db: db}
	if got := s.likeChunks(wim.Hash{9}, 4); !slices.Equal(got, chunks) {
		t.Fatalf("like chunks %v, want the stream's %v", got, chunks)
	}
	if s.likeChunks(wim.Hash{8}, 4) != nil || s.likeChunks(wim.Hash{}, 4) != nil || s.likeChunks(wim.Hash{9}, 1) != nil {
		t.Error("chunks for an unknown stream, no stream, or a one-chunk stream")
	}
}
