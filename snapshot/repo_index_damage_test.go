//go:build unix

package snapshot

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// damageIndexKey flips a byte of each copy of key in the local index file
// (a freed page may hold an old one), as a damaged disk page would: bbolt
// keeps no checksums, so the file still opens and the key is simply not
// found.
func damageIndexKey(t *testing.T, r *Repo, key []byte) {
	t.Helper()
	b, err := os.ReadFile(r.IndexPath())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := bytes.Index(b, key); i >= 0; i = bytes.Index(b, key) {
		b[i+len(key)-1] ^= 0xff
		n++
	}
	if n == 0 {
		t.Fatalf("key %x is not in %s", key, r.IndexPath())
	}
	if err := os.WriteFile(r.IndexPath(), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// indexDamageRepo snapshots a small tree and returns the repository, the
// snapshot and the tree, its local index already built.
func indexDamageRepo(t *testing.T) (*Repo, *Manifest, string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(filepath.Join(src, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b", "d/c"} {
		if err := os.WriteFile(filepath.Join(src, name), bytes.Repeat([]byte(name), 50000), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := testRepo(t, 0)
	return r, snapshotOK(t, r, src, TakeOptions{}).Manifest, src
}

// TestDamagedIndexMiss: a local index that lost a stream to a damaged
// page (and opens without error) is rebuilt by restore, export and check,
// which then succeed; check says that it rebuilt it and reports no
// problem of the repository.
func TestDamagedIndexMiss(t *testing.T) {
	stream := func(name string) []byte {
		h := sha1.Sum(bytes.Repeat([]byte(name), 50000))
		return h[:]
	}
	t.Run("restore", func(t *testing.T) {
		r, m, src := indexDamageRepo(t)
		damageIndexKey(t, r, stream("d/c"))
		out := filepath.Join(t.TempDir(), "out")
		var w warnings
		opts := RestoreOptions{}
		opts.Apply.Warn = w.add
		if _, err := r.Restore(t.Context(), m, out, opts); err != nil || len(w.list) > 0 {
			t.Fatalf("restore: %v (warnings %v)", err, w.list)
		}
		wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
	})
	t.Run("restore warns once", func(t *testing.T) { // the first run's warnings were given again
		r, m, _ := indexDamageRepo(t)
		damageIndexKey(t, r, stream("d/c"))
		var w warnings
		opts := RestoreOptions{Include: []string{"/d", "/nothere"}}
		opts.Apply.Warn = w.add
		if _, err := r.Restore(t.Context(), m, filepath.Join(t.TempDir(), "out"), opts); err != nil || len(w.list) != 1 {
			t.Fatalf("restore: %v, warnings %q; want the one about /nothere", err, w.list)
		}
	})
	t.Run("export", func(t *testing.T) {
		r, m, _ := indexDamageRepo(t)
		damageIndexKey(t, r, stream("a"))
		if _, err := r.Export(t.Context(), []*Manifest{m}, filepath.Join(t.TempDir(), "x.wim"), ExportOptions{}); err != nil {
			t.Fatalf("export: %v", err)
		}
	})
	chunk := sha256.Sum256(bytes.Repeat([]byte("d/c"), 50000)[:RepoChunkSize])
	for what, key := range map[string][]byte{"stream": stream("b"), "chunk": chunk[:]} {
		t.Run("check "+what, func(t *testing.T) {
			r, m, _ := indexDamageRepo(t)
			damageIndexKey(t, r, key)
			res, err := r.Check(t.Context(), CheckOptions{})
			if err != nil || len(res.Problems) > 0 {
				t.Fatalf("check: %v %q", err, res.Problems)
			}
			if res.LocalIndexRebuilt == "" {
				t.Error("check did not say that it rebuilt the damaged local index")
			}
			// Rebuilt: the restore needs no second rebuild to succeed.
			if _, err := r.restore(t.Context(), m, filepath.Join(t.TempDir(), "out"), RestoreOptions{}, false); err != nil {
				t.Errorf("restore after check: %v", err)
			}
			if res, err := r.Check(t.Context(), CheckOptions{}); err != nil || res.LocalIndexRebuilt != "" {
				t.Errorf("second check: %v, rebuilt %q", err, res.LocalIndexRebuilt)
			}
		})
	}
}
