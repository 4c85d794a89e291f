//go:build unix

package snapshot

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestRepairImageFromCache: the third snapshot's image is damaged in the
// repository, its files are not. With the image in the local cache of
// recent images, repair stores it again and keeps every file (it used to
// remove the snapshot); without the cache, the snapshot is lost.
func TestRepairImageFromCache(t *testing.T) {
	for _, cached := range []bool{true, false} {
		t.Run(map[bool]string{true: "cached", false: "not cached"}[cached], func(t *testing.T) {
			rr := makeRepairRepo(t)
			last := rr.snaps[2]
			h, err := last.hash()
			if err != nil {
				t.Fatal(err)
			}
			path, off := rr.streamChunkPath(t, index.SHA1(h), 0)
			dmgFlip(t, path, off+100)
			if !cached {
				must(t, os.RemoveAll(rr.r.metaCache().dir))
			}
			res, err := rr.r.Repair(t.Context(), RepairOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("repair: %+v", res)
			if len(res.Snapshots) != 1 || res.Snapshots[0].ID != last.ID {
				t.Fatalf("repaired %+v, want the third snapshot only", res.Snapshots)
			}
			got := res.Snapshots[0]
			if !cached {
				if !got.Removed {
					t.Errorf("without the cache the image is lost, but %+v", got)
				}
				checkOK(t, rr.r)
				return
			}
			if got.Removed || len(got.LostFiles) != 0 || got.NewID == "" {
				t.Fatalf("the image was cached and no file lost, but %+v", got)
			}
			checkOK(t, rr.r)
			m, err := rr.r.FindSnapshot(t.Context(), got.NewID)
			if err != nil {
				t.Fatal(err)
			}
			if m.Summary.Files != last.Summary.Files || m.Summary.Bytes != last.Summary.Bytes {
				t.Errorf("the snapshot written again counts %+v, the original %+v", m.Summary, last.Summary)
			}
			must(t, os.RemoveAll(rr.r.metaCache().dir)) // restore reads the image stored again
			out := filepath.Join(t.TempDir(), "out")
			if _, err := rr.r.Restore(t.Context(), m, out, RestoreOptions{}); err != nil {
				t.Fatal(err)
			}
			wimtest.CompareTrees(t, rr.src, out, wimtest.CompareOptions{IgnoreRoot: true})
		})
	}
}

// TestRepairManifestFromIndex: the second snapshot's manifest is damaged
// in the repository; the local index keeps a copy that hashes to its id.
// Repair puts that copy back (the snapshot keeps its id and every file);
// it used to remove the snapshot. Without the local index it is lost.
func TestRepairManifestFromIndex(t *testing.T) {
	for _, cached := range []bool{true, false} {
		t.Run(map[bool]string{true: "cached", false: "not cached"}[cached], func(t *testing.T) {
			rr := makeRepairRepo(t)
			if _, err := rr.r.Snapshots(t.Context()); err != nil { // the local index reads the manifests
				t.Fatal(err)
			}
			second := rr.snaps[1]
			id := objectIDFromHex(second.ID)
			dmgFlip(t, filepath.Join(rr.dir, filepath.FromSlash(snapKey(id))), 20)
			if !cached {
				must(t, os.Remove(rr.r.cache))
			}
			res, err := rr.r.Repair(t.Context(), RepairOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("repair: %+v", res)
			if !cached {
				if len(res.Snapshots) != 1 || !res.Snapshots[0].Removed {
					t.Errorf("without the local index the manifest is lost, but %+v", res.Snapshots)
				}
				checkOK(t, rr.r)
				return
			}
			if len(res.Snapshots) != 0 || len(res.Manifests) != 1 || res.Manifests[0] != second.ID {
				t.Fatalf("repair %+v, want the second manifest put back and no snapshot lost", res)
			}
			checkOK(t, rr.r)
			must(t, os.Remove(rr.r.cache)) // what follows reads the repository's manifest
			m, err := rr.r.FindSnapshot(t.Context(), second.ID)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out")
			if _, err := rr.r.Restore(t.Context(), m, out, RestoreOptions{}); err != nil {
				t.Fatal(err)
			}
			wimtest.CompareTrees(t, rr.src, out, wimtest.CompareOptions{IgnoreRoot: true,
				IgnorePaths: []string{"big2.bin", "small2.txt"}})
		})
	}
}
