//go:build unix

package snapshot

import (
	"path/filepath"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestIndexObjectsSplit: a snapshot that adds more than maxObjectEntries
// chunk entries and recipe chunk ids stores its index in several objects,
// none over the bound (but for one pack or stream larger than it), and a
// machine with no local index reads them back: check passes and restore
// gives the tree back, delta recipes of a second snapshot included. So
// does a prune that rewrites them.
func TestIndexObjectsSplit(t *testing.T) {
	const most = 5
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	big := wimtest.RandomBytes(5, 12*RepoChunkSize)
	writeTestFile(t, filepath.Join(src, "big.bin"), big)
	r := testRepo(t, wim.CompressXPRESS)
	r.objectEntries = most
	first := snapshotOK(t, r, src, TakeOptions{})
	copy(big[5*RepoChunkSize:], "changed")
	writeTestFile(t, filepath.Join(src, "big.bin"), big)
	second := snapshotOK(t, r, src, TakeOptions{})

	objects, err := listIDs(t.Context(), r.store, indexPrefix)
	if err != nil || len(objects) < 4 {
		t.Fatalf("%d index objects, %v; want the snapshots' indexes split", len(objects), err)
	}
	deltas := 0
	for id := range objects {
		o, err := r.readIndexObject(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		n, largest := 0, 0
		for _, p := range o.packs {
			n, largest = n+len(p.entries), max(largest, len(p.entries))
		}
		for _, s := range o.streams {
			k := len(s.chunks) + len(s.patches)
			n, largest = n+k, max(largest, k)
			if s.delta {
				deltas++
			}
		}
		if n >= most+largest {
			t.Errorf("index object %x holds %d entries", id[:4], n)
		}
	}
	if deltas == 0 {
		t.Fatal("the second snapshot stored no delta recipe")
	}
	fresh := func() *Repo {
		t.Helper()
		r2, err := OpenRepo(t.Context(), r.store, RepoOptions{CacheDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := r2.Check(t.Context(), CheckOptions{ReadData: true}); err != nil || len(res.Problems) > 0 {
			t.Fatalf("check on a fresh cache: %v, %v", err, res.Problems)
		}
		return r2
	}
	restored := filepath.Join(tmp, "out")
	if _, err := fresh().Restore(t.Context(), second.Manifest, restored, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	wimtest.CompareTrees(t, src, restored, wimtest.CompareOptions{})

	if _, err := r.Forget(t.Context(), []*Manifest{first.Manifest}, LockOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Prune(t.Context(), PruneOptions{MaxUnused: -1}); err != nil {
		t.Fatal(err)
	}
	restored = filepath.Join(tmp, "out2")
	if _, err := fresh().Restore(t.Context(), second.Manifest, restored, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	wimtest.CompareTrees(t, src, restored, wimtest.CompareOptions{})
}

// TestCountMissingPacks: a pack gone while the index object naming it is
// still there is counted missing; one whose index object went too (a
// prune replaced it while the objects were read) is not.
func TestCountMissingPacks(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"a.bin": string(wimtest.RandomBytes(9, 3*RepoChunkSize))})
	r := testRepo(t, wim.CompressXPRESS)
	snapshotOK(t, r, src, TakeOptions{})
	objs, err := listIDs(t.Context(), r.store, indexPrefix)
	if err != nil {
		t.Fatal(err)
	}
	var pending []pendingObject
	for id := range objs {
		o, err := r.readIndexObject(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, pendingObject{id, o})
	}
	packs, err := listIDs(t.Context(), r.store, packPrefix)
	if err != nil || len(packs) == 0 {
		t.Fatal(err)
	}
	for id := range packs {
		must(t, r.store.Delete(t.Context(), packKey(id)))
	}
	var st SyncStats
	var warned []error
	must(t, r.countMissingPacks(t.Context(), pending, &st, func(err error) { warned = append(warned, err) }))
	if st.MissingPacks != len(packs) || len(warned) != 1 {
		t.Errorf("packs gone: %d counted, %d warnings; want %d and one", st.MissingPacks, len(warned), len(packs))
	}
	for id := range objs {
		must(t, r.store.Delete(t.Context(), indexKey(id)))
	}
	st = SyncStats{}
	must(t, r.countMissingPacks(t.Context(), pending, &st, nil))
	if st.MissingPacks != 0 {
		t.Errorf("packs gone with the objects naming them: %d counted missing", st.MissingPacks)
	}
}
