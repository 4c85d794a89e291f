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
	old := maxObjectEntries
	maxObjectEntries = 5
	t.Cleanup(func() { maxObjectEntries = old })
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	big := wimtest.RandomBytes(5, 12*RepoChunkSize)
	writeTestFile(t, filepath.Join(src, "big.bin"), big)
	r := testRepo(t, wim.CompressXPRESS)
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
		if n >= maxObjectEntries+largest {
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
