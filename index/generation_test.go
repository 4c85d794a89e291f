package index

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func generation(t *testing.T, db *DB) Generation {
	t.Helper()
	g, err := db.Generation()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGeneration: a new database has a generation, Apply keeps it, and
// both resets change it.
func TestGeneration(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	g := generation(t, db)
	if g.IsZero() {
		t.Fatal("a new database has no generation")
	}
	b := NewBatch()
	b.AddStream(SHA1{1}, Recipe{Size: 1, Chunks: []ID{id("c")}})
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	if got := generation(t, db); got != g {
		t.Error("Apply changed the generation")
	}
	for name, reset := range map[string]func() error{"Reset": db.Reset, "ResetRepository": db.ResetRepository} {
		if err := reset(); err != nil {
			t.Fatal(err)
		}
		next := generation(t, db)
		if next == g || next.IsZero() {
			t.Errorf("%s left the generation %x", name, next)
		}
		g = next
	}
}

// TestGenerationAddedToOldFile: a database written before generations
// has none until its next Apply gives it one.
func TestGenerationAddedToOldFile(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	if err := db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(rootBucket).Bucket(metaBucket).Delete(generationKey)
	}); err != nil {
		t.Fatal(err)
	}
	if !generation(t, db).IsZero() {
		t.Fatal("the generation was not removed")
	}
	if err := db.Apply(NewBatch()); err != nil {
		t.Fatal(err)
	}
	if generation(t, db).IsZero() {
		t.Error("Apply gave an old file no generation")
	}
}

// TestEmptyApplyWritesNothing: an empty batch on a database with a
// generation commits no transaction (whose sync each command would pay).
func TestEmptyApplyWritesNothing(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	txid := func() int {
		tx, err := db.bolt.Begin(false)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback() }()
		return tx.ID()
	}
	before := txid()
	if err := db.Apply(NewBatch()); err != nil {
		t.Fatal(err)
	}
	if after := txid(); after != before {
		t.Errorf("an empty Apply committed %d transactions", after-before)
	}
	b := NewBatch()
	b.AddIndex(id("i"))
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	if after := txid(); after == before {
		t.Error("a batch with an index object committed nothing")
	}
}
