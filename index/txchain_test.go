package index

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// lastTxID is the id of db's last committed write transaction.
func lastTxID(t *testing.T, db *DB) int {
	t.Helper()
	var id int
	if err := db.view(func(tx *bolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

// keysBatch returns a batch of n chunks, n streams and n file signatures
// for snapshot snap, with its markers.
func keysBatch(n int, snap ID) *Batch {
	b := NewBatch()
	sigs := map[string]Sig{}
	for i := range n {
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], uint64(i))
		b.AddChunk(id(string(k[:])), Location{Offset: uint64(i), Stored: 1, Raw: 1})
		var h SHA1
		copy(h[:], k[:])
		b.AddStream(h, Recipe{Size: int64(i)})
		sigs[string(k[:])] = Sig{Size: int64(i)}
	}
	b.AddIndex(snap)
	b.AddSnapshot(snap, []byte("manifest"))
	b.SetFiles("src", snap, ID{}, fileSigs(sigs))
	return b
}

// TestApplyTransactions: a batch of a first snapshot's size, keys in four
// buckets and the markers, commits one transaction (each commit is page
// writes and two fdatasyncs), and a batch of more than maxTxKeys keys one
// per maxTxKeys keys, the markers in the last.
func TestApplyTransactions(t *testing.T) {
	for _, c := range []struct{ n, want int }{{1000, 1}, {maxTxKeys / 3, 1}, {maxTxKeys/3 + 1, 2}, {maxTxKeys, 4}} {
		db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
		before := lastTxID(t, db)
		if err := db.Apply(keysBatch(c.n, id("s1"))); err != nil {
			t.Fatal(err)
		}
		// 3n keys, at most maxTxKeys a transaction, the markers in the last
		// (one more when the keys fill the last exactly).
		if got := lastTxID(t, db) - before; got != c.want {
			t.Errorf("%d keys of each kind: %d transactions, want %d", c.n, got, c.want)
		}
		f, err := db.Files("src")
		if err != nil {
			t.Fatal(err)
		}
		if f.Snapshot != id("s1") {
			t.Errorf("%d keys of each kind: file set of %x, want s1's", c.n, f.Snapshot[:4])
		}
		_ = f.Close()
	}
}
