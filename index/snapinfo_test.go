package index

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// infos returns what SnapshotInfos reports, a nil summary as "<none>".
func infos(t *testing.T, db *DB) map[ID]string {
	t.Helper()
	got := map[ID]string{}
	if err := db.SnapshotInfos(func(id ID, info []byte) error {
		got[id] = "<none>"
		if info != nil {
			got[id] = string(info)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestSnapshotInfos: a summary comes back beside its snapshot; adding the
// snapshot again without one removes it, and dropping the snapshot drops
// its summary.
func TestSnapshotInfos(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	b := NewBatch()
	b.AddSnapshot(id("a"), []byte("manifest a"), []byte("info a"))
	b.AddSnapshot(id("b"), []byte("manifest b"), nil)
	b.AddSnapshot(id("c"), []byte("manifest c"), []byte("info c"))
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	got := infos(t, db)
	if len(got) != 3 || got[id("a")] != "info a" || got[id("b")] != "<none>" || got[id("c")] != "info c" {
		t.Fatalf("SnapshotInfos = %q", got)
	}
	if m, ok, err := db.SnapshotManifest(id("b")); err != nil || !ok || string(m) != "manifest b" {
		t.Fatalf("SnapshotManifest(b) = %q %v %v", m, ok, err)
	}
	if _, ok, err := db.SnapshotManifest(id("z")); err != nil || ok {
		t.Fatalf("SnapshotManifest of an unknown snapshot: %v %v", ok, err)
	}

	b = NewBatch()
	b.AddSnapshot(id("a"), []byte("manifest a"), nil)
	b.DropSnapshot(id("c"))
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	got = infos(t, db)
	if len(got) != 2 || got[id("a")] != "<none>" || got[id("b")] != "<none>" {
		t.Fatalf("after re-adding a and dropping c: %q", got)
	}
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		if n := data(tx, snapInfoBucket).Stats().KeyN; n != 0 {
			t.Errorf("%d summaries left in snapinfo/", n)
		}
		return nil
	})
}

// TestMigrateVersion2: a version 2 file (no snapinfo bucket) gives its
// snapshots without summaries read-only, and opened for writing takes
// summaries.
func TestMigrateVersion2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idx.db")
	db := openTest(t, path)
	b := NewBatch()
	b.AddSnapshot(id("old"), []byte("manifest"), nil)
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	if err := db.bolt.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(rootBucket)
		if err := root.DeleteBucket(snapInfoBucket); err != nil {
			return err
		}
		return root.Put(versionKey, binary.BigEndian.AppendUint32(nil, 2))
	}); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	ro, err := Open(path, "repo-a", Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open of version 2: %v", err)
	}
	if got := infos(t, ro); len(got) != 1 || got[id("old")] != "<none>" {
		t.Errorf("version 2, read-only: %q", got)
	}
	_ = ro.Close()

	db = openTest(t, path)
	b = NewBatch()
	b.AddSnapshot(id("old"), []byte("manifest"), []byte("info"))
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	if got := infos(t, db); len(got) != 1 || got[id("old")] != "info" {
		t.Errorf("after migration: %q", got)
	}
}
