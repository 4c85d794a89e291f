package index

import bolt "go.etcd.io/bbolt"

// Pages of bbolt's file mapping that a read touches stay mapped into the
// process, each fault mapping the kernel's fault-around neighbours too (64
// KiB). A DB counts its reads and drops those pages (dropResident)
// whenever the reads add up to dropEveryUnits: a read in key order counts
// 1, since it mostly reads the page the last one read; a read at a random
// key counts randomRead, about one 64 KiB window of its own (the branch
// pages above it stay mapped). A unit is thus about 8 KiB, and the pages
// mapped between drops about 256 MiB at most.
//
// A database of at most keepMappedSize bytes keeps its pages: mapped whole
// it holds no more than that. Every drop makes the reads after it fault
// their pages in again, and faults are dear where the bench runs (a
// virtual machine whose kernel isolates page tables: 10 us each). With a
// budget of 8 MiB (1024 units, below 16 MiB kept) the 120 MB index of a
// repository of /usr made its first snapshot take 50 s instead of 29, a
// restore 35 s instead of 29 and an export 52 s instead of 19, for peak
// RSS 8, 84 and 84 MB lower (216 MB against 207 for the snapshot).
const (
	dropEveryUnits = 32768
	randomRead     = 8
	keepMappedSize = 256 << 20
)

// touched counts reads of cost units in tx, dropping the mapped pages when
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
