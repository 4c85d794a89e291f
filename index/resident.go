package index

import bolt "go.etcd.io/bbolt"

// Pages of bbolt's file mapping that a read touches stay mapped into the
// process, each fault mapping the kernel's fault-around neighbours too (64
// KiB): 127k signature lookups of a /usr snapshot held 35 MB of them, and
// the chunk lookups and puts of a changed /usr's image 55-99 MB. A DB
// counts its reads and drops those pages (dropResident) whenever the reads
// add up to dropEvery: a read in key order counts 1, since it mostly reads
// the page the last one read; a read at a random key counts randomRead.
// Dropping every 4096 sequential lookups still left up to 17 MB mapped at
// times; every 1024, up to 10 MB, at no cost measured in time.
//
// A database of at most keepMappedSize bytes keeps its pages: mapped whole
// it holds no more than that, while every drop makes the reads after it
// fault their pages in again, one fault per 64 KiB. Where faults are dear
// (a virtual machine whose kernel isolates page tables), an export of
// 10,500 chunks from a 4 MiB index spent 0.2 s of its 0.9 s in them.
const (
	dropEvery      = 1024
	randomRead     = 8
	keepMappedSize = 16 << 20
)

// touched counts reads of cost units in tx, dropping the mapped pages when
// they add up to dropEvery, unless the database is no larger than
// d.keepMapped. Dropping is safe at any time, even amid a transaction:
// bbolt maps the file read-only and shared, never overwrites a page an
// open transaction may read, and the next access maps the page again from
// the page cache, with the same bytes.
func (d *DB) touched(tx *bolt.Tx, cost int64) {
	if tx.Size() <= d.keepMapped {
		return
	}
	if d.reads.Add(cost) >= dropEvery {
		d.reads.Store(0)
		dropResident(tx.DB().Info().Data, tx.Size())
	}
}
