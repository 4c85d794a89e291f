package index

import (
	"crypto/rand"

	bolt "go.etcd.io/bbolt"
)

// Generation identifies the index's set of streams for as long as streams
// are only added to it. A new database and every reset get a new one, so
// that a fact recorded about the streams beside the index (the metadata
// cache's stream sizes) holds exactly while the generation it was recorded
// under does. The zero Generation is never used: it means none is known.
type Generation [16]byte

var generationKey = []byte("generation")

// IsZero reports whether g is the zero Generation.
func (g Generation) IsZero() bool { return g == Generation{} }

// Generation returns the database's current generation; zero for a
// database written before generations, until its next Apply or reset.
func (d *DB) Generation() (g Generation, err error) {
	err = d.view(func(tx *bolt.Tx) error {
		copy(g[:], tx.Bucket(rootBucket).Bucket(metaBucket).Get(generationKey))
		return nil
	})
	return g, err
}

// newGeneration gives the database in tx a new generation.
func newGeneration(tx *bolt.Tx) error {
	var g Generation
	_, _ = rand.Read(g[:]) // never fails (crypto/rand panics rather)
	return tx.Bucket(rootBucket).Bucket(metaBucket).Put(generationKey, g[:])
}

// ensureGeneration gives the database in tx a generation if it has none.
func ensureGeneration(tx *bolt.Tx) error {
	if len(tx.Bucket(rootBucket).Bucket(metaBucket).Get(generationKey)) == len(Generation{}) {
		return nil
	}
	return newGeneration(tx)
}
