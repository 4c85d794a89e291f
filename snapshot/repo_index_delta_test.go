//go:build unix

package snapshot

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// recipeBytes sums the values of the local index's streams/ and deltas/
// buckets (index/doc.go), and counts the deltas.
func recipeBytes(t *testing.T, r *Repo) (total int64, deltas int) {
	t.Helper()
	db, err := bolt.Open(r.cache, 0, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	err = db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket([]byte("wimsnap-index"))
		for _, name := range []string{"streams", "deltas"} {
			bk := root.Bucket([]byte(name))
			if bk == nil {
				continue // an index of schema version 1
			}
			err := bk.ForEach(func(_, v []byte) error {
				total += int64(len(v))
				if name == "deltas" {
					deltas++
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total, deltas
}

// TestIndexKeepsDeltas: a large file changed a little every night costs
// the local index one full recipe and a small delta per night, both when
// the snapshots record themselves and when the index is rebuilt from the
// repository; every night's version restores from it.
func TestIndexKeepsDeltas(t *testing.T) {
	const chunks, nights = 512, 12 // a 16 MiB file
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	must(t, os.MkdirAll(src, 0o755))
	data := wimtest.RandomBytes(1, chunks*RepoChunkSize)
	r := testRepo(t, wim.CompressXPRESS)
	var versions [][]byte
	for night := range nights {
		if night > 0 {
			pos := (night * 37 % chunks) * RepoChunkSize
			copy(data[pos:], wimtest.RandomBytes(uint64(100+night), 100))
		}
		must(t, os.WriteFile(filepath.Join(src, "disk.img"), data, 0o644))
		snapshotOK(t, r, src, TakeOptions{})
		versions = append(versions, bytes.Clone(data))
	}
	full := int64(8 + 32*chunks)
	check := func(how string) {
		total, deltas := recipeBytes(t, r)
		t.Logf("%s: %d recipe bytes, %d deltas (a full recipe is %d bytes)", how, total, deltas, full)
		if deltas != nights-1 || total > 2*full {
			t.Errorf("%s: the index holds %d recipe bytes in %d deltas for %d versions of a %d-chunk file",
				how, total, deltas, nights, chunks)
		}
	}
	check("recorded by the snapshots")
	if _, err := r.Rebuild(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	check("rebuilt")
	snaps, err := r.Snapshots(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, nights / 2, nights - 1} {
		out := filepath.Join(tmp, fmt.Sprint("out", i))
		if _, err := r.Restore(t.Context(), snaps[i], out, RestoreOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(out, "disk.img"))
		must(t, err)
		if !bytes.Equal(got, versions[i]) {
			t.Errorf("night %d restored different contents", i)
		}
	}
}

// TestDeltaChainBounded: a file changed at every snapshot is stored as a
// delta of its previous version until the chain reaches maxDeltaLinks;
// the next version is stored whole and starts a new chain. Every version
// restores.
func TestDeltaChainBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 67 snapshots")
	}
	const chunks = 4
	nights := maxDeltaLinks + 3
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	must(t, os.MkdirAll(src, 0o755))
	data := wimtest.RandomBytes(1, chunks*RepoChunkSize)
	r := testRepo(t, wim.CompressNone)
	var last *Manifest
	for night := range nights {
		copy(data[(night%chunks)*RepoChunkSize:], fmt.Sprint("night ", night))
		must(t, os.WriteFile(filepath.Join(src, "db"), data, 0o644))
		last = snapshotOK(t, r, src, TakeOptions{}).Manifest
	}
	if _, deltas := recipeBytes(t, r); deltas != nights-2 {
		t.Errorf("%d versions stored as %d deltas; want all but the first and the one after %d links", nights, deltas, maxDeltaLinks)
	}
	db, err := r.openIndex(true)
	must(t, err)
	rec, ok, err := db.Stream(index.SHA1(sha1.Sum(data)))
	closeIndex(db)
	if err != nil || !ok || rec.Deltas != 1 {
		t.Errorf("the last version resolves through %d deltas (%v, %v); want 1", rec.Deltas, ok, err)
	}
	out := filepath.Join(tmp, "out")
	if _, err := r.Restore(t.Context(), last, out, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
}
