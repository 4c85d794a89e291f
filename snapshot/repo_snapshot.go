package snapshot

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
)

// maxMetadata bounds a metadata resource read back from a repository, as
// wim.Reader bounds one read from a WIM.
const maxMetadata = 1 << 30

// TakeOptions configures Repo.Snapshot.
type TakeOptions struct {
	// Capture configures the walk; its Update, Signatures and OnFile are
	// set by Snapshot.
	Capture CaptureOptions
	// Host names the machine; empty means os.Hostname.
	Host string
	// Tags label the snapshot.
	Tags []string
	// Image carries the WIM XML fields; an empty name becomes the base
	// name of the source.
	Image ImageFields
	// Parent is the snapshot whose unchanged files are reused; empty means
	// the newest snapshot of the same host and source. NoParent reads
	// every file.
	Parent   string
	NoParent bool
	// Threads is the number of hashing and compression goroutines; 0
	// means GOMAXPROCS.
	Threads int
	// SystemRoot names the Windows directory whose registry fills the
	// image's WINDOWS element when several exist (see WindowsInfo).
	SystemRoot string
	// Warn receives problems that do not stop the snapshot besides the
	// capture's own (a local index that had to be rebuilt, for one).
	Warn func(error)
	// Lock configures the shared lock the snapshot holds; a nil Lock.Warn
	// means Warn.
	Lock LockOptions
}

// TakeResult is what Snapshot made.
type TakeResult struct {
	Manifest *Manifest
	Capture  CaptureStats
	Sync     SyncStats
	// LockWait is how long taking the shared lock waited for an
	// exclusive one to go; it is set also when Snapshot fails, and then
	// counts a wait that was given up (a stop, Wait used up).
	LockWait time.Duration
}

// commitGrace is how long the commit of a snapshot may go on once its
// context is cancelled, when every pack was stored before (a variable for
// tests).
var commitGrace = 10 * time.Second

// Snapshot captures the tree source into the repository: packs first,
// then an index object naming them and the new streams, then the manifest.
// A failure or cancellation at any point leaves no manifest, so nothing
// committed before is affected; what was stored is unreferenced. A
// cancellation that comes once every pack is stored lets the commit (the
// index object and the manifest) finish, for at most 10 s after the
// cancellation; an uncancelled commit takes as long as its uploads do.
//
// It holds a shared lock on the repository throughout, and fails with
// ErrLocked when an exclusive lock is held, or with ErrLockLost (and no
// manifest) when its lock was lost before the commit.
func (r *Repo) Snapshot(ctx context.Context, source string, opts TakeOptions) (TakeResult, error) {
	if opts.Lock.Warn == nil {
		opts.Lock.Warn = opts.Warn
	}
	lock, waited, err := acquireWaited(ctx, r.store, r.cfg.ConditionalWrites, lockRecord{}, opts.Lock)
	if err != nil {
		return TakeResult{LockWait: waited}, err
	}
	defer lock.release(ctx, opts.Warn)
	var res TakeResult
	err = r.retryCorrupt(ctx, func() (err error) {
		res, err = r.snapshot(ctx, source, opts, lock)
		return err
	})
	res.LockWait = waited
	return res, err
}

func (r *Repo) snapshot(ctx context.Context, source string, opts TakeOptions, lock *Lock) (TakeResult, error) {
	start := time.Now()
	var res TakeResult
	abs, err := sourcePath(source)
	if err != nil {
		return res, err
	}
	if opts.Host == "" {
		if opts.Host, err = os.Hostname(); err != nil {
			return res, fmt.Errorf("host name: %w", err)
		}
	}
	var db *index.DB
	res.Sync, db, err = r.openSynced(ctx, opts.Warn)
	if err != nil {
		return res, err
	}
	defer func() {
		if db != nil {
			closeIndex(db)
		}
	}()
	parent, err := r.snapshotParent(ctx, db, abs, &opts)
	if err != nil {
		return res, err
	}
	sourceKey := opts.Host + "\x00" + abs
	var sigs sigList
	copts := opts.Capture
	from := racyFrom(r.now())
	copts.OnFile = func(path []byte, s index.Sig, kept bool) {
		if racy(s, from) {
			s, kept = racySig(s), false
		}
		sigs.add(path, s, kept)
	}
	salt, err := lock.pruneSeen(ctx)
	if err != nil {
		return res, err
	}
	sink := newRepoSink(ctx, r, db, opts.Threads, salt)
	var view *index.Files
	var sigBase index.ID  // the snapshot whose signatures view holds
	parentCached := false // the parent's image and sizes came from the metadata cache
	var parentImage *wim.Metadata
	if parent != nil {
		sigs.reserve(int(min(max(parent.Summary.Files, 0), 1<<22))) // a hint from a manifest: bounded
		// The parent loads while the capture's scan begins.
		copts.Prepare = func(o *CaptureOptions) error {
			cached, err := r.useParent(ctx, db, parent, sourceKey, o)
			if err != nil {
				return err
			}
			parentCached, parentImage = cached, o.Update
			if view, _ = o.Signatures.(*index.Files); view != nil {
				sink.useView(view)
				sigBase = view.Snapshot
			}
			return nil
		}
	}
	m, cst, err := Capture(ctx, source, sink, copts)
	if view != nil {
		sink.useView(nil)
		_ = view.Close() // a read transaction: nothing to lose
	}
	res.Capture = cst
	if err != nil {
		sink.abort()
		return res, err
	}
	warn := copts.Warn
	if warn == nil {
		warn = func(string, error) {}
	}
	win := WindowsInfo(source, m, opts.SystemRoot, warn)
	img, same := sameImage(m, parent, parentImage, parentCached, cst)
	if !same {
		if parent != nil {
			if h, err := parent.hash(); err == nil {
				sink.setLike(h) // an image mostly shares its parent's chunks
			}
		}
		if img, err = r.storeImage(sink, m, cst.Files+cst.Symlinks); err != nil {
			sink.abort()
			return res, err
		}
	}
	defer img.drop() // the run failed, unless cached first
	obj, err := sink.finish()
	if err != nil {
		return res, err
	}
	man := &Manifest{Time: r.now().UTC(), Host: opts.Host, Source: abs, Kind: KindTree, Tags: opts.Tags, Image: opts.Image,
		Metadata: img.ref}
	if win != nil {
		man.Image.setWindows(win)
	}
	if man.Image.Name == "" {
		man.Image.Name = filepath.Base(abs)
	}
	if parent != nil {
		man.Parent = parent.ID
	}
	man.Summary = summary(cst, &sink.counts, time.Since(start))
	if err := lock.Err(); err != nil {
		return res, err
	}
	// Every pack is stored: the run is nearly done, and a cancellation
	// now lets it finish its writes rather than waste them.
	cctx, cancel := withGrace(ctx, commitGrace)
	defer cancel()
	held := func() error { return lock.Confirm(cctx) }
	stored, snapID, err := r.commit(cctx, obj, man, r.redeclarer(cctx, db, obj, m, man), held)
	if err != nil {
		return res, err
	}
	res.Manifest = man
	closeIndex(db)
	db = nil
	collect(cst.Files+cst.Dirs+cst.Symlinks, sigBase != (index.ID{}))
	gen := r.recordSnapshot(obj, snapID, stored, encodeInfo(man), fileSet{sourceKey, sigBase, sigs.sorted()}, opts.Warn)
	img.cache(gen) // the next snapshot's parent
	return res, nil
}

// collectAbove is the number of entries of an image beyond which a
// snapshot runs the garbage collector before it updates the local index.
// The image's tree, the largest part of a large run's memory (36 MB of a
// first snapshot of /usr), is garbage by then, and the update allocates
// nearly as much (every new chunk's location and stream's recipe,
// sorted); left to the collector's pace, which is set from the live heap
// of its last cycle, tree included, the heap grew past the run's peak.
// The first snapshot of /usr peaked at 193-201 MB without the collection
// and at 176-183 MB with it (three and six runs), in the same time. A
// smaller run is spared it, as cmd/wimsnap's gcSlack spares it others.
const collectAbove = 20000

// collect runs the garbage collector before the local index update of a
// snapshot of n entries, if there are more than collectAbove. After an
// incremental walk (incremental: its parent's signatures were used) it
// also gives the freed memory back to the system: the walk held two
// trees (the parent's and the new image's) and the index pages its
// look-ups mapped, and the update maps the index pages it changes all
// over again, but needs little memory of its own. A 1% change of /usr
// peaked at 168-172 MB while its memory stayed with the process, and at
// 135 MB without it (with incrementalMapped), 0.1 s longer. A first
// snapshot keeps its memory: its update allocates a location and a recipe
// for every new chunk and stream, which freed memory would only have to
// be faulted in again for.
func collect(n int64, incremental bool) {
	switch {
	case n <= collectAbove:
	case incremental:
		debug.FreeOSMemory()
	default:
		runtime.GC()
	}
}

// storedImage is an image's metadata stream once stored: its reference
// for the manifest, and its copy for the metadata cache.
type storedImage struct {
	ref StreamRef
	// cache waits for the copy and puts it in the metadata cache, with
	// the stream sizes under index generation gen (zero: without them).
	cache func(gen index.Generation)
	// drop waits for the copy and drops it, unless cache came first.
	drop func()
}

// storeImage stores the metadata stream of image m, which has about
// streams streams, through sink, encoded as it is read: the encoding of a
// large tree is never whole in memory. A copy goes to the metadata cache,
// written from a second reader of the encoding on another goroutine,
// beside the sink's hashing and the rest of the run, which then lists the
// stream sizes for the cache too.
func (r *Repo) storeImage(sink *repoSink, m *wim.Metadata, streams int64) (storedImage, error) {
	encs, size, err := m.Encoders(2)
	if err != nil {
		return storedImage{}, fmt.Errorf("storing the image metadata: %w", err)
	}
	type copied struct {
		f     *cacheFile
		sizes streamSizes
	}
	done := make(chan copied, 1)
	go func() {
		f := r.metaCache().create()
		if f != nil {
			_, _ = io.Copy(f, encs[1]) // reading cannot fail; f keeps a write error
		}
		done <- copied{f, imageSizes(m, streams)}
	}()
	var once sync.Once
	finish := func(h wim.Hash, gen index.Generation, keep bool) {
		once.Do(func() {
			c := <-done
			switch {
			case c.f == nil:
			case keep:
				c.sizes.gen = gen
				c.f.commit(h, c.sizes)
			default:
				c.f.abort()
			}
		})
	}
	h, err := sink.AddStream(encs[0], size)
	if err != nil {
		finish(h, index.Generation{}, false)
		return storedImage{}, fmt.Errorf("storing the image metadata: %w", err)
	}
	return storedImage{ref: StreamRef{SHA1: fmt.Sprintf("%x", h), Size: size},
		cache: func(gen index.Generation) { finish(h, gen, true) },
		drop:  func() { finish(h, index.Generation{}, false) }}, nil
}

func wimHash(b []byte) wim.Hash {
	return wim.Hash(sha1.Sum(b))
}

func summary(cst CaptureStats, c *sinkCounts, d time.Duration) RunSummary {
	return RunSummary{Dirs: cst.Dirs, Files: cst.Files, Symlinks: cst.Symlinks, Special: cst.Special,
		Bytes: cst.Bytes, FilesRead: cst.Read, BytesRead: cst.BytesRead, Reused: cst.Reused, Skipped: cst.Skipped,
		NewChunks: c.newChunks.Load(), NewRaw: c.newRaw.Load(), NewStored: c.newStored.Load(),
		Packs: c.packs.Load(), DurationSec: d.Round(time.Millisecond).Seconds()}
}

// commit stores the index object (none when the run added nothing, and
// in pieces when it is large, see split) and then the manifest, unless
// held, called just before, reports the run's lock lost (the index
// objects of a large run can take minutes to upload): a snapshot's and
// an import's confirm it then with the store (Lock.Confirm).
func (r *Repo) commit(ctx context.Context, obj *indexObject, man *Manifest, again func() (*indexObject, error),
	held func() error) ([]byte, index.ID, error) {
	ids, err := r.putIndexObjects(ctx, indexPrefix, obj)
	if err != nil {
		return nil, index.ID{}, err
	}
	obj.ids = ids
	// Last, before the manifest: what a prune retired meanwhile is named
	// again (repo_redeclare.go).
	if err := r.nameAgain(ctx, again); err != nil {
		return nil, index.ID{}, err
	}
	if err := held(); err != nil {
		return nil, index.ID{}, err
	}
	b, id, err := r.putManifest(ctx, man)
	if err != nil || again == nil {
		return b, id, err
	}
	// And once more after it: a prune that replaced the index between the
	// look and the manifest (or went on deleting after the look) left the
	// manifest naming retired data, which check and restore did not find
	// until that prune ended, and never if it was killed. The manifest is
	// there: the snapshot is committed. Should this look fail, its data may
	// be named by retired objects alone until that prune's second step, the
	// next prune or a repair: the repository's Warn is told.
	if err := r.nameAgain(ctx, again); err != nil && r.warn != nil {
		r.warn(fmt.Errorf("snapshot %s is committed, but %w; should a prune have run meanwhile, "+
			"'wimsnap check' may report its data missing until that prune ends or 'wimsnap repair' runs", shortID(hexID(id)), err))
	}
	return b, id, nil
}

// nameAgain stores the index object again returns, if any (a prune
// replaced the index meanwhile).
func (r *Repo) nameAgain(ctx context.Context, again func() (*indexObject, error)) error {
	if again == nil {
		return nil
	}
	o, err := again()
	if err != nil {
		return fmt.Errorf("naming again the data a prune retired during the run: %w", err)
	}
	if o == nil {
		return nil
	}
	_, err = r.putIndexObjects(ctx, indexPrefix, o)
	return err
}

// withGrace returns a context that is not cancelled with ctx but grace
// after it: for work worth finishing, however long it takes, that a
// cancellation should still end before long. The cancel function
// releases it.
func withGrace(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancel) })
	return gctx, func() {
		stop()
		cancel()
	}
}

// fileSet is the file signatures a snapshot records for its source
// (source "": none), those kept being base's (see index.Batch.SetFiles).
type fileSet struct {
	source string
	base   index.ID
	sigs   index.FileSigs
}

// recordSnapshot puts what a committed snapshot added into the local
// index, its stored manifest with info (encodeInfo) among it, and returns
// the index's generation then (zero on failure). A failure only costs a
// later sync, so it is a warning.
func (r *Repo) recordSnapshot(obj *indexObject, snapID index.ID, stored, info []byte, files fileSet,
	warn func(error)) (gen index.Generation) {
	db, err := r.openIndex(false)
	if err == nil {
		b := index.NewBatch()
		obj.addTo(b, db)
		for _, id := range obj.ids {
			b.AddIndex(id)
		}
		b.AddSnapshot(snapID, stored, info)
		if files.source != "" {
			b.SetFiles(files.source, snapID, files.base, files.sigs)
		}
		err = db.Apply(b)
		if err == nil {
			gen, err = db.Generation()
		}
		closeIndex(db)
	}
	if err != nil && warn != nil {
		warn(fmt.Errorf("the local index was not updated (the next command reads it from the repository): %w", err))
	}
	return gen // zero unless both Apply and Generation succeeded
}

// snapshotParent picks the parent snapshot, nil for none.
func (r *Repo) snapshotParent(ctx context.Context, db *index.DB, abs string, opts *TakeOptions) (*Manifest, error) {
	if opts.NoParent {
		return nil, nil
	}
	infos, err := r.snapInfos(db)
	if err != nil {
		return nil, err
	}
	if opts.Parent != "" {
		return r.resolveInfo(db, infos, opts.Parent)
	}
	for i := len(infos) - 1; i >= 0; i-- {
		in := &infos[i]
		if in.host != opts.Host || in.imported || !sameSource(in.source, abs) {
			continue
		}
		// One that does not decode is passed over, as when every
		// manifest was decoded to choose.
		if m, err := r.cachedManifest(db, in.id); err == nil {
			return m, nil
		}
	}
	return nil, nil
}

// useParent loads the parent's image as the capture's Update, and the
// file signatures recorded for it. cached reports that the image and its
// stream sizes came from the metadata cache (see loadSizedMetadata).
func (r *Repo) useParent(ctx context.Context, db *index.DB, parent *Manifest, sourceKey string, copts *CaptureOptions) (cached bool, err error) {
	pm, cached, err := r.loadSizedMetadata(ctx, db, parent)
	if errors.Is(err, wim.ErrNotFound) || errors.Is(err, wim.ErrFormat) {
		return false, nil // an image not indexed, or that does not parse, only costs reading every file
	}
	if errors.Is(err, ErrRepoFormat) || errors.Is(err, remote.ErrNotFound) {
		// A pack the index names is gone or damaged: what this snapshot
		// would share with the repository (its unchanged image chunks
		// among it) may be lost too, so it is not taken.
		return false, fmt.Errorf("the parent's image: %w (the repository is damaged: 'wimsnap check' names what is lost, 'wimsnap repair' salvages the rest)", err)
	}
	if err != nil {
		return false, err
	}
	copts.Update = pm
	copts.UpdateHeld = true // loadMetadata took the sizes from db, or from the cache under its generation
	f, err := db.Files(sourceKey)
	if err != nil {
		return cached, err
	}
	if f.Snapshot != objectIDFromHex(parent.ID) {
		// Signatures of another snapshot (or none, after an index
		// rebuild): without ctime and inode to compare, read every file.
		_ = f.Close()
		copts.Signatures = noSigs{}
		return cached, nil
	}
	copts.Signatures = f
	db.LimitMapped(incrementalMapped)
	return cached, nil
}

// incrementalMapped bounds the bytes of the local index that the walk of
// an incremental snapshot keeps mapped (index.DB.LimitMapped): a walk
// whose files mostly keep their signatures looks up only its changed
// files' chunks and streams, but each at random, and a few thousand of
// those mapped most of the 74 MB index of /usr, at the end of the walk,
// where the image's tree makes the run's peak. A walk that reads every
// file (a first snapshot, one whose parent has no signatures) reads most
// of the index anyway, and keeps it.
const incrementalMapped = 32 << 20

// Metadata reads snapshot m's image (its tree, stream sizes filled in).
func (r *Repo) Metadata(ctx context.Context, m *Manifest) (*wim.Metadata, error) {
	var res *wim.Metadata
	err := r.retryCorrupt(ctx, func() (err error) {
		res, err = r.metadata(ctx, m)
		return err
	})
	return res, err
}

func (r *Repo) metadata(ctx context.Context, m *Manifest) (*wim.Metadata, error) {
	db, err := r.syncedIndex(ctx)
	if err != nil {
		return nil, err
	}
	defer closeIndex(db)
	return r.loadMetadata(ctx, db, m)
}

// loadMetadata reads and parses a snapshot's image metadata, keeping it in
// the local metadata cache.
func (r *Repo) loadMetadata(ctx context.Context, db *index.DB, m *Manifest) (*wim.Metadata, error) {
	md, _, err := r.loadSizedMetadata(ctx, db, m)
	return md, err
}

// loadSizedMetadata is loadMetadata that also reports whether the image
// and its stream sizes came from the metadata cache, under the index's
// generation (the cache file, a hit, is then marked recently used).
func (r *Repo) loadSizedMetadata(ctx context.Context, db *index.DB, m *Manifest) (*wim.Metadata, bool, error) {
	gen, err := db.Generation()
	if err != nil {
		return nil, false, err
	}
	src := r.newSource(ctx, db)
	md, sized, err := r.readCachedImage(src, m, true, gen)
	src.close()
	if err != nil || sized {
		return md, sized, err
	}
	return md, false, setIndexSizes(db, md)
}

// setIndexSizes sets the sizes of md's streams from the index, as
// wim.Reader takes them from a WIM's blob table; an unknown stream gets
// 0. The index is asked in hash order.
func setIndexSizes(db *index.DB, md *wim.Metadata) error {
	type ref struct {
		h index.SHA1
		s *wim.Stream
	}
	n := 0
	md.Streams(func(s *wim.Stream) {
		s.Size = 0
		if !s.Hash.IsZero() {
			n++
		}
	})
	refs := make([]ref, 0, n) // sized first: a large tree's refs are megabytes
	md.Streams(func(s *wim.Stream) {
		if !s.Hash.IsZero() {
			refs = append(refs, ref{index.SHA1(s.Hash), s})
		}
	})
	slices.SortFunc(refs, func(a, b ref) int { return a.h.Compare(b.h) })
	hs := make([]index.SHA1, len(refs))
	for i := range refs {
		hs[i] = refs[i].h
	}
	sizes, err := db.StreamSizes(hs)
	if err != nil {
		return err
	}
	for i := range refs {
		refs[i].s.Size = sizes[i]
	}
	return nil
}

// readImage reads and parses a snapshot's image through src, without the
// stream sizes (check and prune need only the hashes). src's pack cache
// may serve the images of many snapshots in turn: consecutive snapshots'
// images share most chunks. keep puts what it reads into the local
// metadata cache, which holds the few images a next snapshot or restore
// may want, not a whole history.
func (r *Repo) readImage(src *repoSource, m *Manifest, keep bool) (*wim.Metadata, error) {
	md, _, err := r.readCachedImage(src, m, keep, index.Generation{})
	return md, err
}

// readCachedImage is readImage that also sets the image's stream sizes
// when the metadata cache holds them under index generation gen, and
// reports whether it did.
func (r *Repo) readCachedImage(src *repoSource, m *Manifest, keep bool, gen index.Generation) (*wim.Metadata, bool, error) {
	h, err := m.hash()
	if err != nil {
		return nil, false, err
	}
	cache := r.metaCache()
	md, sized, hit, err := cache.load(h, m.Metadata.Size, gen)
	if !hit {
		var b []byte
		if b, err = src.readStream(h, maxMetadata); err != nil {
			return nil, false, fmt.Errorf("snapshot %s: metadata: %w", m.ShortID(), err)
		}
		if keep {
			cache.put(h, b)
		}
		md, err = wim.ParseMetadata(b)
	}
	if err != nil {
		return nil, false, fmt.Errorf("snapshot %s: %w", m.ShortID(), err)
	}
	return md, sized, nil
}

// noSigs knows no signature, so no file is reused.
type noSigs struct{}

func (noSigs) Lookup([]byte) (index.Sig, bool) { return index.Sig{}, false }

func objectIDFromHex(s string) index.ID {
	id, _ := parseID(s)
	return id
}
