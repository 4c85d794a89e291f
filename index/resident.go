package index

import bolt "go.etcd.io/bbolt"

// Pages of bbolt's file mapping that a read touches stay mapped into the
// process, each fault mapping the kernel's fault-around neighbours too (64
// KiB, whatever madvise says: bbolt's MADV_RANDOM does not stop it). A DB
// counts the bytes its reads may have left mapped and drops the pages
// (dropResident) whenever they add up to dropEvery: a read in key order
// counts seqRead, about a key and its value, since it mostly reads the
// page the last one read; a read at a random key counts randomRead, a
// window of its own (the branch pages above it stay mapped).
//
// A database of at most keepMappedSize bytes keeps its pages: mapped whole
// it holds no more than that. Every drop makes the reads after it fault
// their pages in again, and faults are dear where the bench runs (a
// virtual machine whose kernel isolates page tables: 10 us each). With a
// budget of 8 MiB (below 16 MiB kept) the 120 MB index of a repository of
// /usr made its first snapshot take 50 s instead of 29, a restore 35 s
// instead of 29 and an export 52 s instead of 19, for peak RSS 8, 84 and
// 84 MB lower (216 MB against 207 for the snapshot): runs that read most
// of the index, at random, keep it mapped. A run that reads little of it
// but all over it asks for a budget (LimitMapped).
const (
	seqRead        = 128
	randomRead     = 64 << 10
	dropEveryBytes = 256 << 20
	keepMappedSize = 256 << 20
)

// ReadAhead asks the kernel to read the whole database into the page
// cache in the background, and returns at once; it maps nothing into the
// process. It is for a run about to look up much of the index at random
// (a restore, a rollback, an export) while the file may have left the
// cache, as the bench leaves it after the other tools' restores: each
// lookup would otherwise wait for the disk in turn. A rollback of /usr
// (1,328 files rewritten) took 1.72-1.88 s with the index and the packs
// out of the cache, 1.53-1.77 s with the index read ahead, 1.35 s with
// everything cached. A database larger than readAheadMax (keepMappedSize)
// is not read ahead: the run may need little of it, and reading it all
// could push out what it does need.
func (d *DB) ReadAhead() {
	_ = d.view(func(tx *bolt.Tx) error {
		if tx.Size() <= d.readAheadMax {
			readAhead(tx.DB().Info().Data, tx.Size())
		}
		return nil
	})
}

// LimitMapped makes the DB drop its mapped pages whenever its reads add
// up to budget bytes, whatever its size. Call it before the reads it is
// to bound, from one goroutine.
func (d *DB) LimitMapped(budget int64) {
	d.keepMapped, d.dropEvery = 0, max(budget, randomRead)
}

// touched counts reads of cost bytes in tx, dropping the mapped pages when
// they add up to d.dropEvery, unless the database is no larger than
// d.keepMapped. Dropping is safe at any time, even amid a transaction:
// bbolt maps the file read-only and shared, never overwrites a page an
// open transaction may read, and the next access maps the page again from
// the page cache, with the same bytes.
func (d *DB) touched(tx *bolt.Tx, cost int64) {
	if tx.Size() <= d.keepMapped {
		return
	}
	if d.reads.Add(cost) >= d.dropEvery {
		d.reads.Store(0)
		dropResident(tx.DB().Info().Data, tx.Size())
	}
}
