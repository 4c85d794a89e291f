// Package index is wimsnap's local cache of a repository's index: a bbolt
// database in the user's cache directory, one file per repository id. It
// answers, without touching the repository, where a chunk is stored, which
// chunks make up a stream, which index objects and snapshots have been seen,
// and the stat signatures of the files and symlinks of the last snapshot of
// a source (for incremental snapshots). It holds nothing the repository
// does not: deleting the file costs time, never data, and the snapshot
// package rebuilds it from the repository's index objects.
//
// The package is a leaf: it knows identifiers and byte layouts, not packs,
// WIMs or stores.
//
// # Schema (version 3)
//
// Everything lives under the root bucket "wimsnap-index". Integers are
// big-endian; hashes are raw bytes.
//
//	wimsnap-index/
//	  "version"          key: u32 schema version (3)
//	  meta/
//	    "repo"           the repository id (its config's id, as text)
//	    "generation"     16 random bytes, new with the file and at each
//	                     reset (see Generation); added by the first Apply
//	                     to a file written before it
//	  chunks/            chunk id (SHA-256 of the raw chunk, 32 bytes) ->
//	                     pack id (32) | offset u64 | stored length u32 |
//	                     raw length u32 | codec u8            (49 bytes)
//	  streams/           stream SHA-1 (20 bytes) ->
//	                     size u64 | chunk id (32) * ceil(size / chunk size)
//	  deltas/            stream SHA-1 (20 bytes) -> a changed version of
//	                     another stream (see Delta): size u64 | chunk
//	                     count u64 | base SHA-1 (20) | (position u64 |
//	                     chunk id (32)) per patch, by ascending position
//	  indexes/           index object id (32 bytes) -> empty: index objects
//	                     whose chunks and streams are in chunks/, streams/
//	                     and deltas/
//	  snapshots/         snapshot id (32 bytes) -> the manifest as stored
//	                     (zstd-compressed JSON), a cache for listing
//	  snapinfo/          snapshot id (32 bytes) -> the snapshot package's
//	                     summary of that manifest (time, kind, host,
//	                     source), from which it picks a parent or the
//	                     latest snapshot without decoding every manifest;
//	                     a snapshot may have none, and an entry counts only
//	                     beside one in snapshots/
//	  files/             one bucket per source key (host, NUL, absolute path) ->
//	    "\x00snapshot"   the snapshot id these signatures belong to
//	    path             path relative to the source ('/'-separated) ->
//	                     size u64 | mtime ns i64 | ctime ns i64 | inode u64 |
//	                     device u64 | mode u32                 (44 bytes)
//	  dropped/           present after a ResetRepository (no version needs it):
//	    streams/         streams/ as that reset found it, for repair (see
//	                     DroppedStreams), and what KeepDropped adds; the
//	                     next reset replaces it (the file keeps about twice
//	                     the room of its recipes)
//
// Writes are batched: a Batch collects the results of one snapshot, rebuild
// or sync step and Apply commits it in transactions of at most 32768 keys
// (memory stays bounded), the markers of what is complete (index objects
// loaded, cached manifests, a file set's snapshot) last. Keys go in
// sorted; a transaction whose keys all sort after its bucket's (a first
// snapshot, a rebuild, a rewritten file set) fills its pages to 90%, any
// other splits them at bbolt's default of half. A crash part way
// leaves work to redo, never a wrong answer: the next sync puts again what
// an unmarked index object names.
//
// A stream is in streams/ or deltas/ (a full recipe wins when both hold
// it) and stays there until a reset. A delta's base is in the index
// before it, or in the same Batch, and no delta is put for a stream the
// index or the batch already knows, so bases never make a cycle (Stream
// bounds the chain all the same). A large file kept for a year of
// nights thus costs one full recipe and 364 small deltas, not 365 full
// recipes (for a 20 GiB file, 20 MB instead of 7.5 GB).
//
// A file set is updated in place over the one of its base snapshot (only
// the signatures that changed are put, the paths gone deleted), its
// "\x00snapshot" key deleted in the first transaction, so that one cut
// short belongs to no snapshot and is trusted by none.
//
// A database whose version is newer than this package's is refused
// (ErrVersion). Opening an older file for writing migrates it: version 2
// added deltas/ (a version 1 file's full recipes stay), version 3
// snapinfo/ (snapshots cached before it have no summary until their
// reader writes one). Read-only, an older file is read as it is. An older
// wimsnap sharing the cache directory takes a migrated file for one it
// cannot use, and rebuilds it (losing the file signatures, so that its
// next snapshot reads every file) at every run: give it a cache
// directory of its own (WIMSNAP_CACHE_DIR). A file
// that bbolt cannot open, or whose pages fail while being read, is
// reported as ErrCorrupt; the caller deletes it and rebuilds.
//
// Concurrency: a DB opened read-only shares the file with other read-only
// openers (flock LOCK_SH); a read-write open excludes everyone and waits up
// to Options.Timeout. Methods of one DB may be called from several
// goroutines at once.
package index
