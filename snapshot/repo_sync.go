package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
)

// writeWait bounds how long a command waits to write the local index
// while another process has it open.
const writeWait = 3 * time.Second

// maxIndexObject bounds a stored index object.
const maxIndexObject = 256 << 20

// SyncStats reports what Sync did to the local index.
type SyncStats struct {
	// Rebuilt is set when the index was rebuilt from scratch; Reason says
	// why: missing, corrupt, newer (a newer wimsnap's schema), stale (it
	// names index objects the repository lacks) or asked (Rebuild).
	Rebuilt bool   `json:"rebuilt"`
	Reason  string `json:"reason,omitempty"`
	// Indexes and Snapshots count the objects read from the repository.
	Indexes   int `json:"index_objects_read"`
	Snapshots int `json:"manifests_read"`
	// Damaged counts index objects and manifests that could not be read
	// and were left out (each also passed to warn).
	Damaged int `json:"damaged"`
	// MissingPacks counts the packs that index objects name and the
	// repository lacks, looked for when every index object is read (a
	// rebuild); each is data lost until repair.
	MissingPacks int `json:"missing_packs"`
	// Unindexed counts the snapshots whose image (metadata stream) no
	// index object describes, looked for by a rebuild: an index object
	// lost, so they cannot be restored (each also passed to warn). Not in
	// the JSON of the commands that sync, which never count it.
	Unindexed int `json:"-"`
	// Busy is set when another process was writing the local index, so
	// it was used as it was (see checkCurrent).
	Busy bool `json:"busy,omitempty"`
}

// Sync brings the local index up to date with the repository: it reads
// the index objects and manifests it has not seen, rebuilds from scratch a
// file that is missing or corrupt (when opened, or when a page fails while
// it is read) or names index objects the repository no longer has, and
// drops manifests that are gone. Objects that cannot be read are passed to
// warn (which may be nil) and left out.
func (r *Repo) Sync(ctx context.Context, warn func(error)) (SyncStats, error) {
	st, err := r.sync(ctx, warn)
	if !errors.Is(err, index.ErrCorrupt) || st.Reason == "corrupt" {
		return st, err
	}
	if warn != nil {
		warn(fmt.Errorf("local index %s unusable, rebuilding it: %w", r.cache, err))
	}
	if rmErr := os.Remove(r.cache); rmErr != nil {
		return st, errors.Join(err, fmt.Errorf("removing the damaged index: %w", rmErr))
	}
	st, err = r.sync(ctx, warn)
	st.Rebuilt, st.Reason = true, "corrupt"
	return st, err
}

// sync is Sync without the rebuild of a file found damaged while read.
func (r *Repo) sync(ctx context.Context, warn func(error)) (SyncStats, error) {
	var st SyncStats
	db, err := r.openIndexRW(&st, warn)
	if errors.Is(err, index.ErrBusy) && !st.Rebuilt {
		// Another wimsnap on this machine is writing the index (or a
		// long snapshot holds it open): go on with it as it is; it may
		// lack the newest objects, which only costs deduplication.
		if warn != nil {
			warn(fmt.Errorf("the local index was not refreshed, another wimsnap run (a command, or another job of the agent) writing it: %w", err))
		}
		st.Busy = true
		return st, nil
	}
	if err != nil {
		return st, err
	}
	defer closeIndex(db)
	// Manifests are listed first: a snapshot committed meanwhile stored its
	// index object before its manifest, so that object is among those
	// synced next. (Listed after, such a snapshot was recorded without
	// its data, and taken for damage.)
	snaps, err := listIDSet(ctx, r.store, snapPrefix)
	if err != nil {
		return st, err
	}
	if err := r.syncIndexes(ctx, db, &st, warn); err != nil {
		return st, err
	}
	return st, r.syncSnapshots(ctx, db, snaps, &st, warn)
}

// Rebuild deletes the local index and builds it again from the repository.
// The cached manifests that still hash to their ids are kept for the
// snapshots whose manifests the repository holds damaged: they are what
// repair puts back (see keptManifests). So are the recipes the old file
// held that the new one lacks, which repair may need for a lost index
// object (keepRecipes): the restore that first misses its data rebuilds.
func (r *Repo) Rebuild(ctx context.Context, warn func(error)) (SyncStats, error) {
	kept := r.keptManifests()
	old := r.cache + ".old"
	_ = os.Remove(old) // a killed rebuild's
	if err := os.Rename(r.cache, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return SyncStats{}, fmt.Errorf("removing the index: %w", err)
	}
	defer func() { _ = os.Remove(old) }() // what repair may need is taken from it first
	st, err := r.Sync(ctx, warn)
	if err == nil {
		r.keepRecipes(old)
	}
	if err == nil && st.Damaged > 0 && len(kept) > 0 {
		err = r.restoreKept(ctx, kept)
	}
	if err == nil {
		st.Unindexed, err = r.countUnindexed(warn)
	}
	st.Rebuilt, st.Reason = true, "asked"
	return st, err
}

// countUnindexed returns how many snapshots of the local index have an
// image that no index object describes, and passes each to warn. Nothing
// else shows that an index object was lost: the packs it named are still
// there, only unreferenced, and a rebuild reads the objects there are.
func (r *Repo) countUnindexed(warn func(error)) (int, error) {
	db, err := r.openIndex(true)
	if err != nil {
		return 0, err
	}
	defer closeIndex(db)
	n := 0
	err = db.Snapshots(func(id index.ID, stored []byte) error {
		m, err := r.decodeManifest(id, stored)
		if err != nil {
			return nil // left for check, as Snapshots leaves it
		}
		h, err := m.hash()
		if err != nil {
			return nil
		}
		if _, ok, err := db.Stream(index.SHA1(h)); err != nil || ok {
			return err
		}
		n++
		if warn != nil {
			warn(fmt.Errorf("%w: snapshot %s cannot be restored: its image, stream %x, is in no index object (one was lost; see 'wimsnap check', then 'wimsnap repair')",
				ErrRepoFormat, m.ShortID(), h))
		}
		return nil
	})
	return n, err
}

// checkCurrent fails when the local index names an index object the
// repository no longer has: a prune replaced it, and what it named may be
// gone, so the index must not be deduplicated against until it is
// rebuilt. (Sync rebuilds it; this is for an index Sync found busy:
// openSynced.)
func (r *Repo) checkCurrent(ctx context.Context, db *index.DB) error {
	_, _, dropped, err := r.indexState(ctx, db)
	if err == nil && dropped {
		err = fmt.Errorf("%w: the local index %s is out of date (the repository was pruned) and another process is writing it; try again when it is done",
			index.ErrBusy, r.cache)
	}
	return err
}

// indexState lists the repository's index objects and those the local
// index has read; dropped says that one of the latter is gone.
func (r *Repo) indexState(ctx context.Context, db *index.DB) (inStore, loaded map[index.ID]bool, dropped bool, err error) {
	if inStore, err = listIDSet(ctx, r.store, indexPrefix); err != nil {
		return nil, nil, false, err
	}
	if loaded, err = db.Indexes(); err != nil {
		return nil, nil, false, err
	}
	for id := range loaded {
		if !inStore[id] {
			return inStore, loaded, true, nil
		}
	}
	return inStore, loaded, false, nil
}

// openIndexRW opens the index for writing, replacing a corrupt file.
func (r *Repo) openIndexRW(st *SyncStats, warn func(error)) (*index.DB, error) {
	if fi, err := os.Stat(r.cache); errors.Is(err, os.ErrNotExist) || err == nil && fi.Size() == 0 {
		st.Rebuilt, st.Reason = true, "missing"
	}
	db, err := index.Open(r.cache, r.cfg.ID, index.Options{Timeout: writeWait})
	if errors.Is(err, index.ErrCorrupt) || errors.Is(err, index.ErrVersion) {
		if warn != nil {
			warn(fmt.Errorf("local index %s unusable, rebuilding it: %w", r.cache, err))
		}
		if rmErr := os.Remove(r.cache); rmErr != nil {
			return nil, fmt.Errorf("removing the damaged index: %w", rmErr)
		}
		st.Rebuilt, st.Reason = true, "corrupt"
		if errors.Is(err, index.ErrVersion) {
			st.Reason = "newer" // a downgrade, not damage
		}
		db, err = index.Open(r.cache, r.cfg.ID, index.Options{})
	}
	if err != nil {
		return nil, fmt.Errorf("local index: %w", err)
	}
	return db, nil
}

// openIndex opens the index, read-only or for writing.
// A writer waits at most writeWait for other openers: what it writes is a
// cache that a later command refreshes anyway.
func (r *Repo) openIndex(readOnly bool) (*index.DB, error) {
	opts := index.Options{ReadOnly: readOnly}
	if !readOnly {
		opts.Timeout = writeWait
	}
	db, err := index.Open(r.cache, r.cfg.ID, opts)
	if err != nil {
		return nil, fmt.Errorf("local index: %w", err)
	}
	return db, nil
}

func closeIndex(db *index.DB) { _ = db.Close() }

// syncedIndex brings the local index up to date and opens it read-only.
func (r *Repo) syncedIndex(ctx context.Context) (*index.DB, error) {
	_, db, err := r.openSynced(ctx, r.damageWarn)
	return db, err
}

// damageWarn passes a warning of Sync to RepoOptions.Warn when it says
// that the local index was damaged (and is rebuilt), that a snapshot was
// left out for a damaged or newer manifest (so that listing the
// snapshots, or resolving "latest" to an older one, does not hide it), or
// that an index object is damaged or newer (so that the data it lists
// cannot be read), each once; it drops the others (an index busy, an
// object or manifest deleted while it was listed), which the callers of
// syncedIndex have never reported.
func (r *Repo) damageWarn(err error) {
	var lo *leftOutError
	var do *damagedObjectError
	switch {
	case r.warn == nil:
	case errors.Is(err, index.ErrCorrupt):
		r.warn(err)
	case errors.As(err, &lo):
		if _, dup := r.leftOut.LoadOrStore(lo.id, true); !dup {
			r.warn(err)
		}
	case errors.As(err, &do):
		if _, dup := r.leftOut.LoadOrStore(do.id, true); !dup {
			r.warn(err)
		}
	}
}

// damagedObjectError is Sync's warning that an index object cannot be
// read for damage, or is of a newer format: the local index lacks what it
// lists until repair writes the index again, or wimsnap is upgraded.
type damagedObjectError struct {
	id  index.ID
	err error
}

func (e *damagedObjectError) Error() string {
	if errors.Is(e.err, ErrNewerFormat) {
		return fmt.Sprintf("%v; the data it lists is left out until then", e.err)
	}
	return fmt.Sprintf("%v: the data it lists cannot be found until 'wimsnap repair' (see 'wimsnap check')", e.err)
}

func (e *damagedObjectError) Unwrap() error { return e.err }

// leftOutError is Sync's warning that a snapshot the store lists was not
// added to the local index because its manifest is damaged. The manifest
// is read again, and the warning given, by every command that syncs until
// the snapshot is repaired or forgotten.
type leftOutError struct {
	id  index.ID // the snapshot's
	err error    // why the manifest could not be read
}

func (e *leftOutError) Error() string {
	short := hexID(e.id)[:8]
	if errors.Is(e.err, ErrNewerFormat) {
		return fmt.Sprintf("snapshot %s left out: %v", short, e.err)
	}
	return fmt.Sprintf("snapshot %s left out: its manifest cannot be read ('wimsnap check' reports it, 'wimsnap forget %s' removes it): %v",
		short, short, e.err)
}

func (e *leftOutError) Unwrap() error { return e.err }

// leftOut is Sync's warning for snapshot id, whose manifest could not be
// read for err: a leftOutError when the manifest is damaged or newer than
// this wimsnap reads, err itself when it is gone (deleted since the
// listing, by forget).
func leftOut(id index.ID, err error) error {
	if !errors.Is(err, ErrRepoFormat) && !errors.Is(err, ErrNewerFormat) {
		return err
	}
	return &leftOutError{id: id, err: err}
}

// openSynced brings the local index up to date and opens it read-only.
// An index that another process was writing, so that Sync left it as it
// was, is used only when no index object it has read is gone (see
// checkCurrent): every command deduplicates against it or reads packs
// through it.
func (r *Repo) openSynced(ctx context.Context, warn func(error)) (SyncStats, *index.DB, error) {
	var st SyncStats
	var db *index.DB
	var err error
	// An index removed between the sync and the open (rebuild-index in
	// another process) is synced again: a few times, not forever.
	for range 3 {
		if st, err = r.Sync(ctx, warn); err != nil {
			return st, nil, err
		}
		if db, err = r.openIndex(true); !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return st, nil, err
	}
	if st.Busy {
		if err := r.checkCurrent(ctx, db); err != nil {
			closeIndex(db)
			return st, nil, err
		}
	}
	return st, db, nil
}

// listIDs lists the object ids under prefix. Only keys of the form the
// repository writes count: prefix and the id in lower-case hex, packs one
// directory deeper (packKey); other keys are ignored (they are not ours),
// as docs/repository.md says, rather than taken for an object that then
// cannot be read under its own key.
func listIDs(ctx context.Context, s remote.Store, prefix string) (map[index.ID]int64, error) {
	ids := map[index.ID]int64{}
	err := s.List(ctx, prefix, func(info remote.Info) error {
		if id, ok := keyID(prefix, info.Key); ok {
			ids[id] = info.Size
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", prefix, err)
	}
	return ids, nil
}

// listIDSet lists the object ids under prefix as listIDs does, without
// their sizes (remote.ListKeys): a local repository then stats none of
// its files, and one of a year of nightly snapshots holds hundreds of
// manifests and index objects, which every command lists.
func listIDSet(ctx context.Context, s remote.Store, prefix string) (map[index.ID]bool, error) {
	ids := map[index.ID]bool{}
	err := remote.ListKeys(ctx, s, prefix, func(key string) error {
		if id, ok := keyID(prefix, key); ok {
			ids[id] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", prefix, err)
	}
	return ids, nil
}

func (r *Repo) syncIndexes(ctx context.Context, db *index.DB, st *SyncStats, warn func(error)) error {
	inStore, loaded, dropped, err := r.indexState(ctx, db)
	if err != nil {
		return err
	}
	if dropped {
		// The repository dropped an index object (prune): what it named
		// may be gone, so start again. File signatures stay.
		if err := db.ResetRepository(); err != nil {
			return err
		}
		loaded = nil
		st.Rebuilt, st.Reason = true, "stale"
	}
	var pending []pendingObject
	var toRead []index.ID
	for id := range inStore {
		if !loaded[id] {
			toRead = append(toRead, id)
		}
	}
	err = r.fetchObjects(ctx, indexPrefix, toRead, maxIndexObject, func(id index.ID, stored []byte, err error) error {
		o, err := r.indexObjectOf(indexPrefix, id, stored, err)
		if errors.Is(err, remote.ErrNotFound) {
			// Listed, then deleted by a prune, which wrote what it named
			// into a new object first: not damage, and the next sync sees
			// it gone (a warning here alarmed every snapshot beside a prune).
			return nil
		}
		if err != nil {
			if !errors.Is(err, ErrRepoFormat) && !errors.Is(err, ErrNewerFormat) {
				return err
			}
			st.Damaged++
			switch {
			case errors.Is(err, ErrRepoFormat):
				r.damagedObjects.Store(true)
				err = &damagedObjectError{id: id, err: err}
			case errors.Is(err, ErrNewerFormat): // left out too: what it names is not used here
				err = &damagedObjectError{id: id, err: err}
			}
			if warn != nil {
				warn(err)
			}
			return nil
		}
		pending = append(pending, pendingObject{id, o})
		return nil
	})
	if err != nil {
		return err
	}
	if len(loaded) == 0 { // every object is read: the packs they name can be checked at the cost of a listing
		if err := r.countMissingPacks(ctx, pending, st, warn); err != nil {
			return err
		}
	}
	return r.applyObjects(db, pending, st, warn)
}

// countMissingPacks counts in st the packs that the index objects pending
// name and the repository lacks, and warns about them: snapshots that use
// their data cannot be restored whole, and snapshots deduplicated against
// them would not be either, until repair mends the index. A pack counts
// only if, looked at again, it is still gone while an object naming it is
// still there: a prune running meanwhile deletes packs only once it has
// replaced the objects that name them.
func (r *Repo) countMissingPacks(ctx context.Context, pending []pendingObject, st *SyncStats, warn func(error)) error {
	namedBy := map[index.ID][]index.ID{} // pack -> the objects naming it
	for _, p := range pending {
		for _, pk := range p.obj.packs {
			namedBy[pk.id] = append(namedBy[pk.id], p.id)
		}
	}
	if len(namedBy) == 0 {
		return nil
	}
	inStore, err := listIDs(ctx, r.store, packPrefix)
	if err != nil {
		return err
	}
	var example index.ID
	for id, objs := range namedBy {
		if _, ok := inStore[id]; ok || !r.stillMissing(ctx, id, objs) {
			continue
		}
		st.MissingPacks++
		example = id
	}
	if st.MissingPacks > 0 && warn != nil {
		warn(fmt.Errorf("%w: %d packs that the index names are missing, such as %s: snapshots using their data cannot be restored whole; run 'wimsnap check' and 'wimsnap repair'",
			ErrRepoFormat, st.MissingPacks, packKey(example)))
	}
	return nil
}

// stillMissing reports whether pack is still gone while one of the index
// objects objs that name it is still there. A failure to tell counts as
// missing.
func (r *Repo) stillMissing(ctx context.Context, pack index.ID, objs []index.ID) bool {
	if _, err := r.store.Stat(ctx, packKey(pack)); err == nil {
		return false
	}
	for _, o := range objs {
		if _, err := r.store.Stat(ctx, indexKey(o)); !errors.Is(err, remote.ErrNotFound) {
			return true
		}
	}
	return false
}

// readIndexObject reads, checks and parses the index object id.
func (r *Repo) readIndexObject(ctx context.Context, id index.ID) (*indexObject, error) {
	return r.readIndexObjectAt(ctx, indexPrefix, id)
}

// readIndexObjectAt reads, checks and parses the index object (or retired
// object) id under prefix.
func (r *Repo) readIndexObjectAt(ctx context.Context, prefix string, id index.ID) (*indexObject, error) {
	stored, err := r.readObject(ctx, objectKey(prefix, id), id, maxIndexObject)
	return r.indexObjectOf(prefix, id, stored, err)
}

// indexObjectOf checks and parses stored, the bytes of the index object
// (or retired object) id under prefix as readObject read them, or returns
// err, the read's error.
func (r *Repo) indexObjectOf(prefix string, id index.ID, stored []byte, err error) (*indexObject, error) {
	key := objectKey(prefix, id)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	if objectID(stored) != id {
		return nil, fmt.Errorf("%w: %s: checksum mismatch", ErrRepoFormat, key)
	}
	b, err := r.zstd.expand(stored, key, maxZstdObject)
	if err != nil {
		return nil, err
	}
	o, err := parseIndexObject(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return o, nil
}

// syncSnapshots brings the snapshots db records to the manifests inStore,
// listed before the index objects were synced.
func (r *Repo) syncSnapshots(ctx context.Context, db *index.DB, inStore map[index.ID]bool, st *SyncStats, warn func(error)) error {
	cached := map[index.ID]bool{} // whether it has a summary
	if err := db.SnapshotInfos(func(id index.ID, info []byte) error {
		_, cached[id] = decodeInfo(id, info)
		return nil
	}); err != nil {
		return err
	}
	b := index.NewBatch()
	for id, summarised := range cached {
		if !inStore[id] {
			b.DropSnapshot(id)
		} else if !summarised {
			r.summarise(db, b, id)
		}
	}
	var toRead []index.ID
	for id := range inStore {
		if _, ok := cached[id]; !ok {
			toRead = append(toRead, id)
		}
	}
	err := r.fetchObjects(ctx, snapPrefix, toRead, maxManifest, func(id index.ID, stored []byte, err error) error {
		m, stored, err := r.manifestOf(id, stored, err)
		if errors.Is(err, remote.ErrNotFound) {
			return nil // listed, then forgotten by another process: not damage
		}
		if err != nil {
			if !errors.Is(err, ErrRepoFormat) && !errors.Is(err, ErrNewerFormat) {
				return err
			}
			st.Damaged++
			if warn != nil {
				warn(leftOut(id, err))
			}
			return nil
		}
		b.AddSnapshot(id, stored, encodeInfo(m))
		st.Snapshots++
		return nil
	})
	if err != nil {
		return err
	}
	return db.Apply(b)
}

// summarise adds to b a summary of the cached snapshot id, which has
// none (cached by a wimsnap before summaries), from its cached manifest;
// one that does not decode is left as it is, for check to report.
func (r *Repo) summarise(db *index.DB, b *index.Batch, id index.ID) {
	stored, ok, err := db.SnapshotManifest(id)
	if err != nil || !ok {
		return
	}
	if m, err := r.decodeManifest(id, stored); err == nil {
		b.AddSnapshot(id, stored, encodeInfo(m))
	}
}

// retryCorrupt runs fn; when it fails because the local index is damaged
// in a way opening it did not show, the index is rebuilt from the
// repository and fn runs once more (see retryRebuilt).
func (r *Repo) retryCorrupt(ctx context.Context, fn func() error) error {
	return r.retryRebuilt(ctx, func(error) error { return fn() })
}

// retryRebuilt runs fn(nil); when it fails with an error that wraps
// index.ErrCorrupt or errIndexMiss (bbolt keeps no checksums, so a damaged
// page may only show as a stream or chunk the index lacks), the index is
// rebuilt from the repository and fn runs once more, given that error: a
// miss then means that the repository lacks the stream too.
func (r *Repo) retryRebuilt(ctx context.Context, fn func(rebuiltFor error) error) error {
	err := fn(nil)
	if !errors.Is(err, index.ErrCorrupt) && !errors.Is(err, errIndexMiss) {
		return err
	}
	if !errors.Is(err, index.ErrCorrupt) && r.damagedObjects.Load() {
		// The sync found a damaged index object, which is the likelier
		// loss, and which a rebuild would find again.
		return fmt.Errorf("%w (the repository has a damaged index object: see 'wimsnap check', then 'wimsnap repair')", err)
	}
	if _, rerr := r.Rebuild(ctx, nil); rerr != nil {
		return errors.Join(err, rerr)
	}
	if r.warn != nil {
		r.warn(fmt.Errorf("local index %s damaged (%w), rebuilt it from the repository", r.cache, err))
	}
	return fn(err)
}

// errIndexMiss is wrapped by the error for a stream or chunk that the
// local index lacks. It wraps wim.ErrNotFound and reads as it does.
var errIndexMiss = fmt.Errorf("%w", wim.ErrNotFound)
