package snapshot

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
)

// ErrCheckFailed is returned by Check when it found damage.
var ErrCheckFailed = errors.New("check: the repository is damaged")

// maxPack bounds a pack read whole (by check --read-data, packReaders at
// once, by prune and by repair): ten times the largest pack wimsnap
// writes, 48 MiB.
const maxPack = 512 << 20

// CheckOptions configures Repo.Check.
type CheckOptions struct {
	// ReadData reads every pack, checking its id, its trailer and every
	// chunk's id after decompression.
	ReadData bool
	// Subset, unless zero, reads the packs it selects as ReadData reads
	// all of them; the structure check still covers the whole repository.
	// It may not be set together with ReadData.
	Subset DataSubset
	// Rand draws the packs of a percentage Subset; nil means a generator
	// seeded at random.
	Rand *rand.Rand
	// Progress, if set, is called with the packs read so far.
	Progress func(done, total int64)
	// Lock configures the shared lock the check holds.
	Lock LockOptions
}

// CheckResult is what Check found. Problems name the object (and for
// snapshots the file) concerned.
type CheckResult struct {
	Snapshots int `json:"snapshots"`
	Packs     int `json:"packs"`
	Chunks    int `json:"chunks"`
	Streams   int `json:"streams_checked"`
	PacksRead int `json:"packs_read"`
	// ReadDataSubset is CheckOptions.Subset as ParseDataSubset reads it,
	// "" when every pack or none was read.
	ReadDataSubset string `json:"read_data_subset,omitempty"`
	// Unreferenced counts the packs no index object names: those of a
	// snapshot killed before it stored its index object, which prune
	// removes.
	Unreferenced int `json:"unreferenced_packs"`
	// UnusedBroken counts the delta recipes that do not resolve and that
	// nothing needs: of streams no snapshot uses, or that another recipe
	// resolves. A prune stopped part way leaves them (their bases' index
	// object deleted before theirs), and the next drops them. Not a
	// problem; one a snapshot needs is.
	UnusedBroken int      `json:"unused_unresolved_recipes"`
	Problems     []string `json:"problems"`
	// Notes are what the check found that is not a problem: images that
	// hold entries every restore leaves out (DroppedError), as an import
	// of another tool's WIM may store them.
	Notes []string `json:"notes"`
	// Damaged lists the snapshots (ids) that cannot be restored whole,
	// those whose manifest cannot be read included.
	Damaged []string `json:"damaged_snapshots"`
	// LocalIndexRebuilt says why the local index was rebuilt during the
	// check (it was damaged: it disagreed with the repository's index
	// objects, say), "" when it was not. Not a problem of the repository.
	LocalIndexRebuilt string `json:"local_index_rebuilt,omitempty"`
}

// checker is the state of one Check. It works from the repository's own
// index objects, read afresh, not from the local index, so that it sees
// what another machine would.
type checker struct {
	ctx    context.Context
	r      *Repo
	db     *index.DB   // for reading metadata streams
	src    *repoSource // reads them, one pack cache for all
	res    *CheckResult
	packs  map[index.ID]int64 // packs in the store, with sizes
	chunks map[index.ID]index.Location
	// named are the packs an index object names, those that hold only
	// copies of chunks that chunks places in other packs too.
	named   map[index.ID]bool
	streams *recipes
	broken  []*indexStream // delta recipes that do not resolve
	snaps   []*Manifest
	// manifestIDs are the manifests listed before the index objects.
	manifestIDs map[index.ID]int64
	bad         map[index.ID]string // chunks known damaged, with why
	seen        map[wim.Hash]string // streams checked: "" ok, else why not
	// localErr is a failure met while reading metadata that is not the
	// repository's: of the local index (rebuilt, and the check run
	// again), of the store or of the local disk (the check stops).
	localErr error
	// compareLocal compares the local index with the index objects for
	// the streams checked (repo_check_local.go): false once Check has
	// rebuilt it from them. localSnaps are the snapshots it has cached,
	// whose streams are compared (localNeed, those that resolve).
	compareLocal bool
	localSnaps   map[string]bool
	localNeed    map[index.SHA1]struct{}
	comparing    bool // the snapshot being checked is in localSnaps
}

func (c *checker) problem(format string, args ...any) {
	c.res.Problems = append(c.res.Problems, fmt.Sprintf(format, args...))
}

// Check verifies the repository: every index object and manifest reads,
// checks against its id and parses; every chunk an index object names lies
// inside a pack that exists; every snapshot's metadata reads and every
// stream it uses resolves through the index objects to chunks. With
// ReadData every pack is read and every chunk it holds for the index is
// expanded and checked against its id; with Subset only the packs it
// selects are, and damage is reported only where they hold the chunks. The
// error wraps ErrCheckFailed when problems were found. The local index is
// brought up to date first, and every stream checked is looked up in it
// too: one it lacks or resolves otherwise than the index objects means a
// damaged index, which is rebuilt when the check is done
// (LocalIndexRebuilt); that is not a problem of the repository, and the
// check, which goes by the index objects, is not run again. (A local index
// that fails while metadata is read through it is rebuilt and the check
// run again.)
func (r *Repo) Check(ctx context.Context, opts CheckOptions) (res CheckResult, err error) {
	if err := opts.Subset.validate(); err != nil {
		return res, err
	}
	if opts.ReadData && !opts.Subset.IsZero() {
		return res, errors.New("check: ReadData and Subset are both set")
	}
	if opts.Rand == nil {
		opts.Rand = newCheckRand()
	}
	err = r.withShared(ctx, opts.Lock, func(*Lock) error {
		return r.retryRebuilt(ctx, func(rebuiltFor error) error {
			res, err = r.check(ctx, opts, rebuiltFor == nil)
			if rebuiltFor != nil {
				res.LocalIndexRebuilt = rebuiltFor.Error()
			} else if res.LocalIndexRebuilt != "" && (err == nil || errors.Is(err, ErrCheckFailed)) {
				if _, rerr := r.Rebuild(ctx, nil); rerr != nil {
					return errors.Join(err, fmt.Errorf("rebuilding the damaged local index: %w", rerr))
				}
			}
			return err
		})
	})
	return res, err
}

// check is Check with the local index as it is; compareLocal compares it
// with the index objects.
func (r *Repo) check(ctx context.Context, opts CheckOptions, compareLocal bool) (CheckResult, error) {
	res := CheckResult{Problems: []string{}, Notes: []string{}, Damaged: []string{}}
	c := &checker{ctx: ctx, r: r, res: &res, bad: map[index.ID]string{}, seen: map[wim.Hash]string{},
		chunks: map[index.ID]index.Location{}, named: map[index.ID]bool{}, streams: newRecipes(), compareLocal: compareLocal}
	openIndex := func() error {
		db, err := r.syncedIndex(ctx)
		if err != nil {
			return err
		}
		c.db, c.src = db, r.newSource(ctx, db)
		return nil
	}
	defer func() {
		if c.db != nil {
			c.src.close()
			closeIndex(c.db)
		}
	}()
	listPacks := func() (err error) {
		// After the index: packs a prune wrote for it are there.
		c.packs, err = listIDs(ctx, r.store, packPrefix)
		res.Packs = len(c.packs)
		return err
	}
	// Manifests are listed first: a snapshot committed meanwhile stored its
	// index object before its manifest, so that object is in the local
	// index synced after the listing and in the listing of index objects
	// that follows. (With the index synced first, such a snapshot's image
	// was not found, and the snapshot reported damaged.)
	steps := []func() error{c.listManifests, openIndex, c.localSnapshots, c.indexObjectsSettled, c.retiredObjects, listPacks,
		c.manifests, c.checkChunks}
	if opts.ReadData || !opts.Subset.IsZero() {
		res.ReadDataSubset = opts.Subset.String()
		steps = append(steps, func() error {
			ids := opts.Subset.selectPacks(slices.Collect(mapKeys(c.packs)), opts.Rand)
			return c.readPacks(ids, opts.Progress)
		})
	}
	steps = append(steps, c.snapshots, c.localIndex, c.brokenRecipes)
	for _, step := range steps {
		if err := step(); err != nil {
			return res, err
		}
	}
	if len(res.Problems) > 0 {
		if len(res.Problems) == 1 {
			return res, fmt.Errorf("%w: 1 problem", ErrCheckFailed)
		}
		return res, fmt.Errorf("%w: %d problems", ErrCheckFailed, len(res.Problems))
	}
	return res, nil
}

// indexObjectsSettled reads the index objects, again when one listed was
// gone when read: a prune replaced it meanwhile (and waits for this
// check's lock before it deletes any pack).
func (c *checker) indexObjectsSettled() error {
	for range 3 {
		problems := len(c.res.Problems)
		if err := c.indexObjects(); !errors.Is(err, errIndexMoved) {
			return err
		}
		c.res.Problems = c.res.Problems[:problems]
		clear(c.chunks)
		clear(c.named)
		c.streams.reset()
	}
	return fmt.Errorf("check: the index objects keep changing (a prune is running?)")
}

// errIndexMoved means that an index object listed was gone when read.
var errIndexMoved = errors.New("check: an index object went away")

// indexObjects reads every index object into c.chunks and c.streams.
func (c *checker) indexObjects() error {
	ids, err := listIDs(c.ctx, c.r.store, indexPrefix)
	if err != nil {
		return err
	}
	err = c.r.fetchObjects(c.ctx, indexPrefix, slices.Collect(maps.Keys(ids)), maxIndexObject, func(id index.ID, stored []byte, err error) error {
		o, err := c.r.indexObjectOf(indexPrefix, id, stored, err)
		if errors.Is(err, remote.ErrNotFound) {
			return errIndexMoved
		}
		if err != nil {
			if !damage(err) {
				return err
			}
			c.problem("%v", err)
			return nil
		}
		c.addObject(o)
		return nil
	})
	if err != nil {
		return err
	}
	c.broken = c.streams.settle()
	return nil
}

// addObject adds the chunks and streams of the index object o to c.chunks
// and c.streams.
func (c *checker) addObject(o *indexObject) {
	for _, p := range o.packs {
		c.named[p.id] = true
		for _, e := range p.entries {
			l := index.Location{Pack: p.id, Offset: e.offset, Stored: e.stored, Raw: e.raw, Codec: e.codec}
			if old, ok := c.chunks[e.id]; ok && old.Pack == l.Pack && (old.Offset != l.Offset || old.Stored != l.Stored) {
				// A pack holds a chunk once: one of the two is wrong, and
				// a restore may read it (repair takes the trailer's).
				c.problem("chunk %s: index objects give it two places in pack %s (at %d and %d)",
					hexID(e.id)[:16], hexID(p.id), old.Offset, l.Offset)
			}
			c.chunks[e.id] = l
		}
	}
	for i := range o.streams {
		c.streams.add(&o.streams[i])
	}
}

// retiredObjects reports the retired objects of an unfinished prune that
// cannot be read: prune and repair refuse to run while one is there, and
// repair removes it.
func (c *checker) retiredObjects() error {
	ids, err := listIDs(c.ctx, c.r.store, retiredPrefix)
	if err != nil {
		return err
	}
	for id := range ids {
		_, err := c.r.readIndexObjectAt(c.ctx, retiredPrefix, id)
		switch {
		case errors.Is(err, remote.ErrNotFound): // a prune finished meanwhile
		case err != nil && !damage(err):
			return err
		case err != nil:
			c.problem("%v", err)
		}
	}
	return nil
}

// brokenRecipes reports the delta recipes that do not resolve, once the
// snapshots are checked: a problem for a stream one uses and no other
// recipe resolves, else counted.
func (c *checker) brokenRecipes() error {
	meta := map[wim.Hash]bool{}
	for _, m := range c.snaps {
		if h, err := m.hash(); err == nil {
			meta[h] = true
		}
	}
	for _, s := range c.broken {
		_, used := c.seen[wim.Hash(s.hash)]
		if _, resolves := c.streams.streams[s.hash]; resolves || !used && !meta[wim.Hash(s.hash)] {
			c.res.UnusedBroken++
			continue
		}
		c.problem("stream %x: its delta recipe does not resolve: base stream %x is in no index object, too short, or a delta of it", s.hash, s.base)
	}
	return nil
}

// damage reports whether err says an object is damaged or missing (a
// finding), rather than that the check itself failed.
func damage(err error) bool {
	return errors.Is(err, ErrRepoFormat) || errors.Is(err, remote.ErrNotFound) || errors.Is(err, wim.ErrNotFound) ||
		errors.Is(err, wim.ErrFormat) || errors.Is(err, remote.ErrTooLarge)
}

// finding reports whether err, met reading a pack, is a finding of the
// check: damage, or a pack the local store may not open (its file's
// permissions). Other failures (the store's, the local disk's, such as a
// spool directory this user may not write) stop it.
func finding(err error) bool {
	return damage(err) || errors.Is(err, fs.ErrPermission) && !errors.Is(err, errSpool)
}

// listManifests lists the manifests, before the index objects are read.
func (c *checker) listManifests() (err error) {
	c.manifestIDs, err = listIDs(c.ctx, c.r.store, snapPrefix)
	return err
}

// manifests reads every manifest listed; an unreadable one is a damaged
// snapshot, and one gone since the listing was forgotten meanwhile.
func (c *checker) manifests() error {
	err := c.r.fetchObjects(c.ctx, snapPrefix, slices.Collect(maps.Keys(c.manifestIDs)), maxManifest, func(id index.ID, stored []byte, err error) error {
		m, _, err := c.r.manifestOf(id, stored, err)
		if err != nil {
			if errors.Is(err, remote.ErrNotFound) {
				return nil // forgotten since it was listed
			}
			if !damage(err) {
				return err
			}
			c.problem("snapshot %s: %v (%s)", hexID(id), err, c.manifestAdvice(id))
			c.res.Damaged = append(c.res.Damaged, hexID(id))
			return nil
		}
		c.snaps = append(c.snaps, m)
		return nil
	})
	if err != nil {
		return err
	}
	sortManifests(c.snaps)
	return nil
}

// checkChunks checks that every chunk lies inside an existing pack.
func (c *checker) checkChunks() error {
	used := map[index.ID]bool{}
	missing := map[string]int{}
	short := map[index.ID]string{} // shortWhy's answer, once per pack: a Stat (a HEAD request) each
	for id, l := range c.chunks {
		c.res.Chunks++
		used[l.Pack] = true
		size, ok := c.packs[l.Pack]
		switch {
		case !ok:
			c.bad[id] = "pack " + hexID(l.Pack) + " is missing"
		case int64(l.Offset)+int64(l.Stored) > size:
			why, ok := short[l.Pack]
			if !ok {
				why = c.shortWhy(l.Pack)
				short[l.Pack] = why
			}
			c.bad[id] = "pack " + hexID(l.Pack) + " " + why
		default:
			continue
		}
		missing[c.bad[id]]++
	}
	for _, why := range slices.Sorted(mapKeys(missing)) {
		c.problem("%s (%d chunks)", why, missing[why])
	}
	for id := range c.packs {
		if !used[id] && !c.named[id] { // one named holds copies, unused data that prune counts as such
			c.res.Unreferenced++
		}
	}
	return nil
}

// shortWhy says what is wrong with a pack too short for the chunks listed
// in it: truncated, or no object at all (a FIFO or a device in a local
// repository lists with size 0), which a look at it tells.
func (c *checker) shortWhy(pack index.ID) string {
	if _, err := c.r.store.Stat(c.ctx, packKey(pack)); errors.Is(err, remote.ErrDamaged) {
		return "is not a file (" + err.Error() + ")"
	}
	return "is truncated"
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func hexID(id index.ID) string { return hex.EncodeToString(id[:]) }

// readPacks reads the packs ids whole and checks the chunks the index
// places in them.
func (c *checker) readPacks(ids []index.ID, progress func(done, total int64)) error {
	inPack := map[index.ID][]index.ID{}
	for id, l := range c.chunks {
		inPack[l.Pack] = append(inPack[l.Pack], id)
	}
	results := make([]packCheck, len(ids))
	err := c.eachPack(ids, progress, func(ctx context.Context, i int, decs *decoders) error {
		results[i] = c.readPack(ctx, ids[i], inPack[ids[i]], decs)
		return results[i].err
	})
	if err := cmp.Or(err, c.ctx.Err()); err != nil {
		return err
	}
	// The findings in the order of ids, whatever order the readers took.
	for i, r := range results {
		id := ids[i]
		c.res.PacksRead++
		c.res.Problems = append(c.res.Problems, r.problems...)
		for _, b := range r.bad {
			c.bad[b.chunk] = b.why
		}
		if r.unreadable != nil {
			if len(inPack[id]) == 0 && errors.Is(r.unreadable, remote.ErrNotFound) {
				continue // unreferenced, and deleted by a prune since it was listed
			}
			c.problem("pack %s: %v", hexID(id), r.unreadable)
			for _, cid := range inPack[id] {
				c.bad[cid] = "pack " + hexID(id) + " is unreadable"
			}
		}
	}
	return nil
}

// packReaders is how many packs check reads at once: downloading one
// overlaps expanding another, and expanding uses both cores.
const packReaders = 2

// eachPack calls check for each index of ids on packReaders goroutines,
// each with its own decoders, reporting progress as packs are done. The
// first error of check stops the others and is returned: not the
// cancellation that the others then see, which would read as an
// interrupt.
func (c *checker) eachPack(ids []index.ID, progress func(done, total int64), check func(context.Context, int, *decoders) error) error {
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	var (
		next, done atomic.Int64
		mu         sync.Mutex // serialises progress
		wg         sync.WaitGroup
		stopOnce   sync.Once
		first      error // the error that stopped the readers
	)
	report := func(n int64) {
		if progress != nil {
			mu.Lock()
			progress(n, int64(len(ids)))
			mu.Unlock()
		}
	}
	report(0)
	for range min(packReaders, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			decs := &decoders{}
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(ids) {
					return
				}
				if err := check(ctx, i, decs); err != nil {
					stopOnce.Do(func() { first = err; cancel() })
					return
				}
				report(done.Add(1))
			}
		}()
	}
	wg.Wait()
	return first
}

// packCheck is what checking one pack found: problems of the pack,
// chunks found damaged, or why it could not be read at all (unreadable, a
// problem) or why the check must stop (err).
type packCheck struct {
	problems   []string
	bad        []badChunk
	unreadable error
	err        error
}

type badChunk struct {
	chunk index.ID
	why   string
}

// readPack checks one pack: its id and trailer (problems of the pack
// only), then each chunk the index places in it, which is damaged when it
// does not expand to its id. A pack that is missing, too large, or that
// the local store may not open (its file's permissions) is unreadable, a
// problem; other failures of the store stop the check. It only reads c's maps, so packs may be
// checked at once.
func (c *checker) readPack(ctx context.Context, id index.ID, chunks []index.ID, decs *decoders) (pc packCheck) {
	data, err := c.r.readPack(ctx, id, c.packs[id])
	if err != nil {
		if finding(err) {
			pc.unreadable = err
		} else {
			pc.err = err
		}
		return pc
	}
	if sha256.Sum256(data) != id {
		pc.problems = append(pc.problems, fmt.Sprintf("pack %s: contents do not match its id", hexID(id)))
	}
	_, err = parsePackBytes(c.r.zstd, data)
	if errors.Is(err, ErrNewerFormat) && sha256.Sum256(data) == id {
		pc.err = fmt.Errorf("pack %s: %w", hexID(id), err) // a newer wimsnap's, not damage: the check stops
		return pc
	}
	if err != nil {
		pc.problems = append(pc.problems, fmt.Sprintf("pack %s: trailer: %v", hexID(id), err))
	}
	var raw []byte
	for _, cid := range chunks {
		l := c.chunks[cid]
		if l.Offset+uint64(l.Stored) > uint64(len(data)) {
			continue // reported by checkChunks
		}
		raw, err = decs.checkedChunk(raw, data[l.Offset:l.Offset+uint64(l.Stored)], int(l.Raw), l.Codec, cid)
		if err != nil {
			pc.bad = append(pc.bad, badChunk{cid, "chunk " + hexID(cid)[:16] + " in pack " + hexID(id)[:16] + " is corrupt"})
			pc.problems = append(pc.problems, fmt.Sprintf("pack %s: chunk %s: %v", hexID(id), hexID(cid), err))
		}
	}
	return pc
}

// snapshot checks one snapshot and reports whether it is whole.
func (c *checker) snapshot(m *Manifest, img loadedImage) bool {
	h, err := m.hash()
	if err == nil {
		if why := c.stream(h); why != "" {
			err = errors.New(why)
		} else if s := c.streams.streams[index.SHA1(h)]; s != nil && s.size != m.Metadata.Size {
			err = fmt.Errorf("its manifest gives its image %d bytes, which are %d (repair writes the manifest again)", m.Metadata.Size, s.size)
		}
	}
	md := img.md
	if err == nil {
		err = img.err
		if err != nil && !finding(err) && !errors.Is(err, index.ErrCorrupt) {
			// The check failed, not the snapshot: the store stopped
			// answering, or the disk under the spool files is full.
			c.localErr = err
			return true
		}
	}
	if errors.Is(err, index.ErrCorrupt) || c.comparing && errors.Is(err, errIndexMiss) {
		c.localErr = err // the local index, not the repository: rebuild and retry
		return true
	}
	switch {
	case err != nil && strings.HasPrefix(err.Error(), "snapshot "+m.ShortID()+": "):
		c.problem("%v", err) // readImage's, which names the snapshot: said twice
		return false
	case err != nil:
		c.problem("snapshot %s: metadata: %v", m.ShortID(), err)
		return false
	}
	ok := true
	if md.Dropped > 0 {
		c.res.Notes = append(c.res.Notes, fmt.Sprintf("snapshot %s: %v", m.ShortID(), DroppedError(md.Dropped)))
	}
	_ = md.Visit(func(e *wim.Entry, path func() string) error {
		for _, s := range entryStreams(e) {
			if s.Hash.IsZero() {
				continue
			}
			if why := c.stream(s.Hash); why != "" {
				c.problem("snapshot %s: %s: %s", m.ShortID(), path(), why)
				ok = false
			}
		}
		return nil
	})
	return ok
}

// rawSize is the size chunk id expands to, as its index entry says.
func (c *checker) rawSize(id index.ID) (int64, bool) {
	l, ok := c.chunks[id]
	return int64(l.Raw), ok
}

// stream reports why stream h cannot be read, "" when it can.
func (c *checker) stream(h wim.Hash) string {
	if why, ok := c.seen[h]; ok {
		return why
	}
	c.res.Streams++
	why := c.streamProblem(h)
	c.seen[h] = why
	return why
}

func (c *checker) streamProblem(h wim.Hash) string {
	chunks, ok := c.streams.chunks(index.SHA1(h))
	if !ok {
		return fmt.Sprintf("stream %x is in no index object", h)
	}
	for _, id := range chunks {
		if why := c.bad[id]; why != "" {
			return why
		}
		if _, ok := c.chunks[id]; !ok {
			return fmt.Sprintf("chunk %s of stream %x is in no index object", hexID(id)[:16], h)
		}
	}
	if why := sizeMismatch(chunks, c.streams.streams[index.SHA1(h)].size, c.rawSize); why != "" {
		return fmt.Sprintf("stream %x: %s", h, why)
	}
	if c.comparing {
		c.localNeed[index.SHA1(h)] = struct{}{}
	}
	return ""
}
