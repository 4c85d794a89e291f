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

// TestPruneKeepsSoundCopy: of a chunk stored in two packs, one copy
// damaged, prune keeps the sound one and deletes the damaged pack's
// copy, whichever copy is damaged. It kept the copy of whichever index
// object it read first and deleted the other pack: half the time the
// only sound copy, and the snapshot was lost.
func TestPruneKeepsSoundCopy(t *testing.T) {
	for _, damaged := range []string{"original", "copy"} {
		t.Run(damaged, func(t *testing.T) {
			for range 6 { // the order in which prune reads the objects varies
				pruneWithDamagedCopy(t, damaged == "copy")
			}
		})
	}
}

func pruneWithDamagedCopy(t *testing.T, damageCopy bool) {
	t.Helper()
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	writeFiles(t, src, map[string]string{"big": string(wimtest.RandomBytes(3, 300<<10))})
	r := testRepo(t, wim.CompressXPRESS)
	m := snapshotOK(t, r, src, TakeOptions{}).Manifest
	var packs []indexPack
	for id := range hostileIDs(t, r.store, indexPrefix) {
		o, err := r.readIndexObject(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		packs = append(packs, o.packs...)
	}
	if len(packs) != 1 {
		t.Fatalf("%d packs, want 1", len(packs))
	}
	orig := packs[0]
	dup := storeReversedCopy(t, r, orig)

	bad := orig
	if damageCopy {
		bad = dup
	}
	e := bad.entries[len(bad.entries)/2]
	flipStoredByte(t, r, bad.id, int64(e.offset)+int64(e.stored)/2)

	if _, err := r.Prune(t.Context(), PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.Stat(t.Context(), packKey(bad.id)); err == nil {
		t.Errorf("the damaged pack %s is kept", hexID(bad.id)[:8])
	}
	must(t, os.Remove(r.cache))
	out := filepath.Join(tmp, "out")
	if _, err := r.Restore(t.Context(), m, out, RestoreOptions{}); err != nil {
		t.Fatalf("restore after the prune: %v", err)
	}
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{IgnoreRoot: true})
}

// flipStoredByte flips the byte at off of pack id in r's local store.
func flipStoredByte(t *testing.T, r *Repo, id index.ID, off int64) {
	t.Helper()
	b, err := r.readObject(t.Context(), packKey(id), id, maxPack)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0xff
	must(t, putBytes(t.Context(), r.store, packKey(id), b))
}

// TestCheckCopiesNotUnreferenced: a pack that an index object names,
// holding copies of chunks another pack holds too, is not unreferenced:
// check called it so (it went by one place of each chunk), while prune,
// rightly, counted its bytes as unused and left it within --max-unused,
// so that the report never went away.
func TestCheckCopiesNotUnreferenced(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	writeFiles(t, src, map[string]string{"big": string(wimtest.RandomBytes(3, 300<<10))})
	r := testRepo(t, wim.CompressXPRESS)
	snapshotOK(t, r, src, TakeOptions{})
	var orig indexPack
	for id := range hostileIDs(t, r.store, indexPrefix) {
		o, err := r.readIndexObject(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		orig = o.packs[0]
	}
	storeReversedCopy(t, r, orig)
	res, err := r.Check(t.Context(), CheckOptions{})
	if err != nil || res.Unreferenced != 0 || res.Packs != 2 {
		t.Errorf("check: %v, %d of %d packs unreferenced; want none of 2", err, res.Unreferenced, res.Packs)
	}
}

// storeReversedCopy stores a copy of the pack orig, its chunks in reverse
// order (so another pack id), and an index object naming it, and returns
// the copy as that object names it.
func storeReversedCopy(t *testing.T, r *Repo, orig indexPack) indexPack {
	t.Helper()
	b := r.newRepoPack()
	for _, e := range slices.Backward(orig.entries) {
		stored, err := getRange(t.Context(), r.store, packKey(orig.id), int64(e.offset), int64(e.stored))
		if err != nil {
			t.Fatal(err)
		}
		b.add(e.id, stored, int(e.raw), e.codec)
	}
	f, copyID, err := b.finish(r.zstd)
	if err != nil {
		t.Fatal(err)
	}
	must(t, f.put(t.Context(), r.store, packKey(copyID)))
	_ = f.Close()
	dup := indexPack{id: copyID, entries: b.entries}
	if _, err := r.putIndexObjects(t.Context(), indexPrefix, &indexObject{packs: []indexPack{dup}}); err != nil {
		t.Fatal(err)
	}
	return dup
}
