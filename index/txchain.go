package index

import (
	"fmt"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// txChain runs a sequence of writes in as few write transactions as
// maxTxKeys allows: each write counts its key with step, which commits the
// transaction once it holds maxTxKeys keys; the next write begins another.
// A batch of a first snapshot's size (thousands of keys in several
// buckets) thus commits once, where a transaction per bucket cost a commit
// each: its page writes and two fdatasyncs.
//
// Bucket handles belong to one transaction: get them again after a step
// (bucket does, per transaction).
type txChain struct {
	d    *DB
	tx   *bolt.Tx
	keys int
	// buckets caches the data buckets of tx by name.
	buckets map[string]*bolt.Bucket
}

// chain runs fn with a txChain of d and commits what it leaves open. An
// error of fn, or a panic of bbolt on a damaged page (ErrCorrupt), rolls
// the open transaction back; those committed before stay.
func (d *DB) chain(fn func(c *txChain) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	c := &txChain{d: d}
	defer func() {
		if c.tx != nil {
			_ = c.tx.Rollback()
		}
	}()
	defer catch(&err)
	if err := fn(c); err != nil {
		return err
	}
	return c.commit()
}

// current returns the open transaction, beginning one if none is.
func (c *txChain) current() (*bolt.Tx, error) {
	if c.tx == nil {
		tx, err := c.d.bolt.Begin(true)
		if err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
		c.tx, c.buckets = tx, map[string]*bolt.Bucket{}
	}
	return c.tx, nil
}

// bucket returns the data bucket name in the open transaction, beginning
// one if none is.
func (c *txChain) bucket(name []byte) (*bolt.Bucket, error) {
	tx, err := c.current()
	if err != nil {
		return nil, err
	}
	b := c.buckets[string(name)]
	if b == nil {
		b = data(tx, name)
		c.buckets[string(name)] = b
	}
	return b, nil
}

// step counts a key written in the open transaction and commits it when
// it holds maxTxKeys.
func (c *txChain) step() error {
	c.keys++
	if c.keys < maxTxKeys {
		return nil
	}
	return c.commit()
}

// commit commits the open transaction, if any.
func (c *txChain) commit() error {
	tx := c.tx
	c.tx, c.buckets, c.keys = nil, nil, 0
	if tx == nil {
		return nil
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return nil
}
