package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Version is the schema version this package writes.
const Version = 3

// Errors. Errors returned by DB wrap one of these or a bbolt error.
var (
	// ErrCorrupt: the file is not a readable index; delete it and rebuild.
	ErrCorrupt = errors.New("index: database is corrupt")
	// ErrVersion: the file was written by a newer wimsnap.
	ErrVersion = errors.New("index: database schema is newer than this wimsnap")
	// ErrBusy: another process holds the database open for writing.
	ErrBusy = errors.New("index: database in use by another wimsnap run")
	// ErrOtherRepo: the database belongs to another repository id.
	ErrOtherRepo = errors.New("index: database belongs to another repository")
)

var (
	rootBucket     = []byte("wimsnap-index")
	versionKey     = []byte("version")
	metaBucket     = []byte("meta")
	repoKey        = []byte("repo")
	chunksBucket   = []byte("chunks")
	streamsBucket  = []byte("streams")
	deltasBucket   = []byte("deltas")
	indexesBucket  = []byte("indexes")
	snapsBucket    = []byte("snapshots")
	snapInfoBucket = []byte("snapinfo")
	filesBucket    = []byte("files")
	// droppedBucket holds, when present, the streams/ bucket as the last
	// ResetRepository found it (full recipes only): see DroppedStreams.
	// Not a data bucket: older versions leave it alone.
	droppedBucket  = []byte("dropped")
	fileSnapKey    = []byte("\x00snapshot")
	dataBucketKeys = [][]byte{chunksBucket, streamsBucket, deltasBucket, indexesBucket, snapsBucket, snapInfoBucket, filesBucket}
)

// Options configures Open.
type Options struct {
	// ReadOnly opens the file shared with other read-only openers; the
	// file must exist.
	ReadOnly bool
	// Timeout bounds the wait for another process's lock; 0 means 10 s.
	Timeout time.Duration
}

// DB is an open index database. Its methods may be called concurrently.
type DB struct {
	bolt  *bolt.DB
	path  string
	reads atomic.Int64 // since the mapped pages were last dropped (see touched)
	// keepMapped is the largest database whose mapped pages are never
	// dropped, dropEvery the bytes of reads between drops above it
	// (keepMappedSize and dropEveryBytes, or LimitMapped's; tests lower
	// them to see drops).
	keepMapped, dropEvery int64
	// readAheadMax is the largest database ReadAhead reads
	// (keepMappedSize; tests lower it).
	readAheadMax int64
}

// Open opens or creates the index file at path for the repository repoID.
// A file of another repository yields ErrOtherRepo, an unreadable one
// ErrCorrupt, one held by another writer past the timeout ErrBusy.
func Open(path, repoID string, opts Options) (db *DB, err error) {
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if !opts.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer catch(&err)
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: opts.ReadOnly, Timeout: opts.Timeout})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s (waited %v for it; run the command again once the other is done, or give this one another cache directory)",
			ErrBusy, path, opts.Timeout)
	case errors.Is(err, os.ErrNotExist):
		return nil, err
	case errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS) || errors.Is(err, os.ErrPermission) ||
		errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ENOMEM):
		// A new file could not be written, or the process is out of
		// file descriptors or memory: the disk or the process, not the
		// file, is at fault, and deleting it would lose a good index.
		return nil, fmt.Errorf("index: %s: %w", path, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	db = &DB{bolt: b, path: path, keepMapped: keepMappedSize, dropEvery: dropEveryBytes,
		readAheadMax: keepMappedSize}
	if err := db.init(repoID, opts.ReadOnly); err != nil {
		_ = b.Close()
		return nil, err
	}
	return db, nil
}

// init checks the version and repository, creating the buckets of a new
// file and migrating an older one (not when read-only: a version 1 file
// is read as it is).
func (d *DB) init(repoID string, readOnly bool) error {
	var version uint32
	err := d.view(func(tx *bolt.Tx) (err error) {
		version, err = checkRoot(tx, repoID)
		return err
	})
	switch {
	case errors.Is(err, errMissingRoot) && readOnly:
		return fmt.Errorf("%w: empty database", ErrCorrupt)
	case errors.Is(err, errMissingRoot):
		return d.update(create(repoID))
	case err != nil:
		return err
	case version < Version && !readOnly:
		return d.update(migrate)
	}
	return nil
}

// checkRoot checks the version, repository and buckets of tx's database,
// and returns its version.
func checkRoot(tx *bolt.Tx, repoID string) (uint32, error) {
	root := tx.Bucket(rootBucket)
	if root == nil {
		return 0, errMissingRoot
	}
	v := root.Get(versionKey)
	if len(v) != 4 {
		return 0, fmt.Errorf("%w: no schema version", ErrCorrupt)
	}
	version := binary.BigEndian.Uint32(v)
	if version > Version {
		return 0, fmt.Errorf("%w: version %d", ErrVersion, version)
	}
	meta := root.Bucket(metaBucket)
	if meta == nil {
		return 0, fmt.Errorf("%w: no meta bucket", ErrCorrupt)
	}
	if got := meta.Get(repoKey); !bytes.Equal(got, []byte(repoID)) {
		return 0, fmt.Errorf("%w: %q, not %q", ErrOtherRepo, got, repoID)
	}
	for _, k := range dataBucketKeys {
		if root.Bucket(k) == nil && !addedAfter(k, version) {
			return 0, fmt.Errorf("%w: bucket %s missing", ErrCorrupt, k)
		}
	}
	return version, nil
}

// create makes the buckets of a new database for repoID.
func create(repoID string) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		root, err := tx.CreateBucket(rootBucket)
		if err != nil {
			return err
		}
		if err := root.Put(versionKey, binary.BigEndian.AppendUint32(nil, Version)); err != nil {
			return err
		}
		meta, err := root.CreateBucket(metaBucket)
		if err != nil {
			return err
		}
		if err := meta.Put(repoKey, []byte(repoID)); err != nil {
			return err
		}
		for _, k := range dataBucketKeys {
			if _, err := root.CreateBucket(k); err != nil {
				return err
			}
		}
		return newGeneration(tx)
	}
}

// addedAfter reports whether the data bucket k is one that a database of
// version lacks: version 2 added deltas/, version 3 snapinfo/.
func addedAfter(k []byte, version uint32) bool {
	return version < 2 && bytes.Equal(k, deltasBucket) || version < 3 && bytes.Equal(k, snapInfoBucket)
}

// migrate brings an older database to this version by adding the buckets
// it lacks (see addedAfter); what it holds stays as it is: full recipes
// of version 1, and snapshots without summaries, which readers then
// summarise themselves.
func migrate(tx *bolt.Tx) error {
	root := tx.Bucket(rootBucket)
	for _, k := range [][]byte{deltasBucket, snapInfoBucket} {
		if _, err := root.CreateBucketIfNotExists(k); err != nil {
			return err
		}
	}
	return root.Put(versionKey, binary.BigEndian.AppendUint32(nil, Version))
}

var errMissingRoot = errors.New("index: no root bucket")

// Path is the file the DB was opened from.
func (d *DB) Path() string { return d.path }

// Close closes the database.
func (d *DB) Close() error { return d.bolt.Close() }

// Reset empties every data bucket, keeping the repository id: the start of
// a full rebuild. It and ResetRepository give the database a new
// Generation.
func (d *DB) Reset() error { return d.reset(dataBucketKeys, false) }

// ResetRepository empties what the repository's objects fill (chunks,
// streams, index objects seen, snapshots), keeping the file signatures:
// they stay valid, as a capture reuses a signature's stream only when the
// index has it.
// The full recipes it drops are kept apart, replacing those an earlier
// reset kept (DroppedStreams).
func (d *DB) ResetRepository() error {
	return d.reset(slices.DeleteFunc(slices.Clone(dataBucketKeys), func(k []byte) bool { return bytes.Equal(k, filesBucket) }), true)
}

func (d *DB) reset(keys [][]byte, keepStreams bool) error {
	return d.update(func(tx *bolt.Tx) error {
		root := tx.Bucket(rootBucket)
		if keepStreams {
			if err := keepDropped(tx, root); err != nil {
				return err
			}
		}
		for _, k := range keys {
			if err := root.DeleteBucket(k); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
				return err
			}
			if _, err := root.CreateBucket(k); err != nil {
				return err
			}
		}
		return newGeneration(tx)
	})
}

// keepDropped moves root's streams/ bucket into a new dropped/ bucket,
// in place of the one there was.
func keepDropped(tx *bolt.Tx, root *bolt.Bucket) error {
	if err := root.DeleteBucket(droppedBucket); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
		return err
	}
	dropped, err := root.CreateBucket(droppedBucket)
	if err != nil {
		return err
	}
	return tx.MoveBucket(streamsBucket, root, dropped)
}

// view runs fn in a read transaction, turning a panic of bbolt on a
// damaged page into ErrCorrupt.
func (d *DB) view(fn func(*bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer catch(&err)
	return d.bolt.View(fn)
}

// update runs fn in a write transaction, turning a panic into ErrCorrupt,
// and so a mapping larger than any file may be (bbolt's "mmap too large",
// from a page count a damaged meta page claims: every write failed with
// it, and nothing rebuilt the file).
func (d *DB) update(fn func(*bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer catch(&err)
	if err := d.bolt.Update(fn); err != nil {
		if strings.Contains(err.Error(), "mmap too large") {
			return fmt.Errorf("%w: %s: %w", ErrCorrupt, d.path, err)
		}
		return fmt.Errorf("index: %w", err)
	}
	return nil
}

// catch turns a panic into ErrCorrupt: bbolt panics on some damaged pages,
// and reading a page past the end of a truncated file faults, which
// debug.SetPanicOnFault (set by the callers) turns into a panic.
func catch(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %v", ErrCorrupt, r)
	}
}

// data returns the data bucket name of the root.
func data(tx *bolt.Tx, name []byte) *bolt.Bucket {
	return tx.Bucket(rootBucket).Bucket(name)
}
