package snapshot

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"maps"
	"math"
	"slices"
	"sync"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
)

// Restoring many small files would cost a ranged read per file; over S3
// that is a request per file, and the server's work per request dominates.
// Files are packed in the order a capture walks them and restored in about
// the same order, so neighbouring files' chunks lie side by side in a pack.
// packCache reads packs in windows of packWindow bytes and keeps the last
// few, so that a run of small files costs one read per window. A window
// holds a whole pack (an own pack of a big stream is the largest, 1.5
// packTarget, plus the chunk that crosses the mark and the trailer): one
// GET per pack, as restic reads them. Windows wait in spool files
// (spool.go), so memory does not grow with their size. A restore
// announces the parts of packs its files lie in (expect); a window whose
// part is under half of it fetches only that part (a restore of a few
// files).
//
// The cache keeps windows up to a budget of bytes, not a count: a big
// file changed over many snapshots lies in a pack of its own from the
// first and in many small packs of later ones, and reading it goes back
// and forth between them. Counting windows let the small packs push the
// big one out (a restore from MinIO fetched 304 MB of a 98 MB
// repository). A window let go while reads still wanted it is read
// afterwards in slices of refetchSlice bytes, each a window of its own:
// a file read against a set of packs larger than the budget costs
// requests, not the same bytes over and over, and readers in different
// parts of the window do not push each other's slice out.
const (
	packWindow   = packTarget + packTarget/2 + packSlack
	packWindows  = 4       // windows of packWindow bytes kept: at most 196 MiB of disk
	refetchSlice = 4 << 20 // the slices a window let go is read in after
)

// packCache is a small LRU cache of pack windows, safe for concurrent use;
// concurrent readers of one window wait for the one read of it. close
// releases the windows' spool files. A store whose objects open as files
// (a local directory, remote.Opener) is read directly: a window is then a
// whole pack, open, and copying packs would only cost time.
type packCache struct {
	ctx     context.Context //nolint:containedctx // the restore's context, for the reads it makes on callers' behalf
	store   remote.Store
	opener  remote.Opener // store's, when it has it
	winSize int64         // packWindow, or a whole pack when opened
	budget  int64         // the bytes of windows kept
	spool   *readSpool    // where the windows' spool files go

	mu    sync.Mutex
	sizes map[index.ID]int64
	stats int // sizes asked for that were not known
	// asking holds, per pack whose size is being asked for, a channel
	// closed once the answer is in sizes (or failed): two windows of one
	// pack asked for it twice at once, a HEAD request each.
	asking map[index.ID]chan struct{}
	wins   map[winKey]*packWin
	lru    []winKey // least recently used first
	held   int64    // the bytes of the windows in wins
	// evicted holds the windows the budget let go after they were
	// fetched whole; they are read in slices after.
	evicted map[winKey]bool
	spans   map[index.ID][]span // expected parts of packs, in order, apart by more than spanGap
	// sums says, of each pack fetched whole from a store that does not
	// open packs as files, whether it hashed to its id (packSeals).
	sums map[index.ID]bool
}

// winKey names window n of a pack: bytes [n*winSize, (n+1)*winSize); or,
// when slice > 0, the slice-th refetchSlice bytes of that window; or,
// when part is not empty, that expected part of it.
type winKey struct {
	pack  index.ID
	n     int64
	slice int64
	part  span
}

// packWin is one window, ready once its read is done. A window forgotten
// by the cache (gone) keeps its file until its last reader lets it go.
type packWin struct {
	ready chan struct{}
	f     packData
	base  int64 // the pack offset f starts at
	part  bool  // f holds only the part of the window the reads expected
	size  int64 // the bytes it counts against the budget
	err   error
	refs  int  // readers holding it; guarded by packCache.mu
	gone  bool // no longer in the cache; guarded by packCache.mu
}

// span is the part of a pack the reads to come are expected to want.
type span struct{ lo, hi int64 }

// newPackCache returns a cache of store's packs that keeps windows up to
// budget bytes (but always the one being read), in spool files in the
// directory of spool.
func newPackCache(ctx context.Context, store remote.Store, spool *readSpool, budget int64) *packCache {
	c := &packCache{ctx: ctx, store: store, winSize: packWindow, spool: spool, budget: budget,
		sizes: map[index.ID]int64{}, asking: map[index.ID]chan struct{}{}, wins: map[winKey]*packWin{}, evicted: map[winKey]bool{},
		spans: map[index.ID][]span{}, sums: map[index.ID]bool{}}
	if o, ok := store.(remote.Opener); ok {
		c.opener, c.winSize = o, math.MaxInt64
	}
	return c
}

// packData is what a window holds: a spool file, or an open pack.
type packData interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// readAt fills dst with the pack's bytes at off, from cached windows,
// reading the ones it lacks, and returns used with the windows it used
// added: each once in a row, so that the list of a stream read from one
// window after the other stays as short as its windows (it grew by a key
// per chunk: 48 MB for a file of 20 GiB).
func (c *packCache) readAt(dst []byte, pack index.ID, off int64, used []winKey) ([]winKey, error) {
	for len(dst) > 0 {
		k := c.keyAt(pack, off)
		if len(used) == 0 || used[len(used)-1] != k {
			used = append(used, k)
		}
		w, err := c.window(k)
		if err != nil {
			return used, err
		}
		if w.part && (off < w.base || off >= w.base+w.f.Size()) {
			// Outside what was expected: read the whole window again.
			c.release(w)
			c.unexpect(pack)
			continue
		}
		n, err := w.readAt(dst, off-w.base)
		c.release(w)
		if err != nil {
			return used, fmt.Errorf("pack %x: %w", pack[:4], err)
		}
		dst, off = dst[n:], off+int64(n)
	}
	return used, nil
}

// readAt copies the window's bytes at off into dst, as many as it has.
// An offset past the pack's end is a format error; a failed read of the
// spool file is not.
func (w *packWin) readAt(dst []byte, off int64) (int, error) {
	if off >= w.f.Size() {
		return 0, fmt.Errorf("%w: offset %d past its end", ErrRepoFormat, off)
	}
	n := int(min(int64(len(dst)), w.f.Size()-off))
	if _, err := w.f.ReadAt(dst[:n], off); err != nil {
		return 0, fmt.Errorf("reading it: %w", err)
	}
	return n, nil
}

// keyAt names the window that holds pack's byte at off: a slice of it
// when the whole window was let go before.
func (c *packCache) keyAt(pack index.ID, off int64) winKey {
	k := winKey{pack: pack, n: off / c.winSize}
	c.mu.Lock()
	expected := len(c.spans[pack]) > 0
	c.mu.Unlock()
	if expected && c.opener == nil {
		_, _ = c.size(pack) // for partAt; fetch needs it anyway, and reports its failure
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.opener != nil: // an opened pack costs nothing to open again
	case c.evicted[k]:
		k.slice = 1 + off%c.winSize/refetchSlice
	default:
		k.part = c.partAt(k, off)
	}
	return k
}

// partAt returns the expected part of window k that holds off, when the
// expected parts of the window are under half of it (a restore of a few
// files: their bytes, not whole packs, are fetched); else, or when off is
// in none, an empty span. c.mu is held.
func (c *packCache) partAt(k winKey, off int64) span {
	spans := c.spans[k.pack]
	if len(spans) == 0 {
		return span{}
	}
	lo, hi := k.n*packWindow, (k.n+1)*packWindow
	if size, ok := c.sizes[k.pack]; ok {
		hi = min(hi, size)
	}
	var want int64
	var at span
	for _, sp := range spans {
		sp = span{max(sp.lo, lo), min(sp.hi, hi)}
		if sp.lo < sp.hi {
			want += sp.hi - sp.lo
			if sp.lo <= off && off < sp.hi {
				at = sp
			}
		}
	}
	if want*2 >= hi-lo {
		return span{}
	}
	return at
}

// window returns window k, read when it is not cached, for the caller to
// release.
func (c *packCache) window(k winKey) (*packWin, error) {
	c.mu.Lock()
	w, ok := c.wins[k]
	if ok {
		c.touch(k)
		w.refs++
		c.mu.Unlock()
		<-w.ready
		if w.err != nil {
			c.release(w)
			return nil, w.err
		}
		return w, nil
	}
	w = &packWin{ready: make(chan struct{}), refs: 1}
	c.wins[k] = w
	c.lru = append(c.lru, k)
	c.mu.Unlock()

	w.err = c.fetch(k, w)
	close(w.ready)
	if w.err != nil {
		c.drop([]winKey{k})
		c.release(w)
		return nil, w.err
	}
	return w, nil
}

// release lets go of a window window returned.
func (c *packCache) release(w *packWin) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w.refs--
	c.closeIfDone(w)
}

// forget takes window k out of the cache. c.mu is held.
func (c *packCache) forget(k winKey) {
	w := c.wins[k]
	delete(c.wins, k)
	c.held -= w.size
	w.gone = true
	c.closeIfDone(w)
}

// closeIfDone closes the file of a forgotten window no reader holds.
// c.mu is held.
func (c *packCache) closeIfDone(w *packWin) {
	if w.gone && w.refs == 0 && w.f != nil {
		_ = w.f.Close() // read only: nothing to lose
		w.f = nil
	}
}

// close forgets every window; readers that still hold one may finish.
func (c *packCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.wins {
		c.forget(k)
	}
	c.lru = nil
}

// touch makes k the most recently used window. c.mu is held.
func (c *packCache) touch(k winKey) {
	if i := slices.Index(c.lru, k); i >= 0 {
		c.lru = append(slices.Delete(c.lru, i, i+1), k)
	}
}

// hold sets what window k, w, is to hold: the pack's bytes [base, end),
// part or not. It counts them against the budget and forgets the least
// recently used other windows while the cache holds more than its
// budget; windows still being fetched stay, and readers that hold one
// keep their bytes. A window forgotten already (close) counts for nothing.
func (c *packCache) hold(k winKey, w *packWin, base, end int64, part bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w.base, w.part = base, part
	if w.gone {
		return
	}
	w.size = end - base
	c.held += w.size
	for i := 0; c.held > c.budget && i < len(c.lru); {
		old := c.lru[i]
		ow := c.wins[old]
		if old == k || !isReady(ow) {
			i++
			continue
		}
		if !ow.part && old.slice == 0 {
			c.evicted[old] = true
		}
		c.forget(old)
		c.lru = slices.Delete(c.lru, i, i+1)
	}
}

// drop forgets windows, after their bytes failed a check: the next read
// fetches them again (the damage may have been in transfer).
func (c *packCache) drop(keys []winKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if _, ok := c.wins[k]; ok {
			c.forget(k)
			c.lru = slices.DeleteFunc(c.lru, func(x winKey) bool { return x == k })
		}
	}
}

// spanGap is the largest gap between two expected parts of a pack that
// are fetched as one: a request costs more than the bytes between.
const spanGap = 256 << 10

// expect adds [lo, hi) to the parts of pack that reads are expected to
// want. A window whose expected parts are under half of it then fetches
// each part alone (partAt): a restore of a few files fetches their bytes,
// not whole packs, and two files far apart in a pack not all between (it
// kept one part from the first byte wanted to the last: 33 MB fetched for
// 256 KB restored). A read outside them fetches the whole window.
func (c *packCache) expect(pack index.ID, lo, hi int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.spans[pack] = addSpan(c.spans[pack], span{lo, hi})
}

// addSpan adds s to spans (in order, apart by more than spanGap), merging
// it with those it overlaps or comes within spanGap of.
func addSpan(spans []span, s span) []span {
	i, _ := slices.BinarySearchFunc(spans, s.lo, func(sp span, lo int64) int { return cmp.Compare(sp.hi+spanGap, lo) })
	j := i
	for j < len(spans) && spans[j].lo <= s.hi+spanGap {
		s.lo, s.hi = min(s.lo, spans[j].lo), max(s.hi, spans[j].hi)
		j++
	}
	return slices.Replace(spans, i, j, s)
}

// unexpect forgets pack's expected part and its windows that hold only
// that part.
func (c *packCache) unexpect(pack index.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.spans, pack)
	for k, w := range c.wins {
		if !isReady(w) {
			continue // being read; its part is not known yet
		}
		if k.pack == pack && w.part {
			c.forget(k)
			c.lru = slices.DeleteFunc(c.lru, func(x winKey) bool { return x == k })
		}
	}
}

// fetch reads window k (or the part of it reads are expected to want)
// from the store into a spool file, or opens the pack, and sets w's f,
// base and part.
func (c *packCache) fetch(k winKey, w *packWin) error {
	if c.opener != nil {
		c.hold(k, w, 0, c.budget/packWindows, false) // an open file, not bytes: one of packWindows
		f, err := c.opener.Open(c.ctx, packKey(k.pack))
		if err != nil {
			return fmt.Errorf("reading pack %x: %w", k.pack[:4], damaged(err))
		}
		w.f = f
		return nil
	}
	size, err := c.size(k.pack)
	if err != nil {
		return err
	}
	start := k.n * packWindow
	if start >= size {
		return fmt.Errorf("%w: pack %x: offset %d past its end", ErrRepoFormat, k.pack[:4], start)
	}
	end := min(start+packWindow, size)
	if k.slice > 0 {
		start += (k.slice - 1) * refetchSlice
		if start >= end {
			return fmt.Errorf("%w: pack %x: offset %d past its end", ErrRepoFormat, k.pack[:4], start)
		}
		end = min(start+refetchSlice, end)
	}
	part := k.part.lo < k.part.hi // an expected part (partAt)
	if part {
		start, end = k.part.lo, min(k.part.hi, end)
	}
	c.hold(k, w, start, end, part)
	for {
		dir := c.spool.current()
		f, err := c.fetchRange(k.pack, dir, start, end, end-start == size)
		if err == nil {
			w.f = f
			return nil
		}
		if !unwritable(err) || !c.spool.moveFrom(dir, err) {
			return err
		}
	}
}

// fetchRange reads bytes [start, end) of pack into a new spool file in
// dir, noting whether the pack hashed to its id when whole is set.
func (c *packCache) fetchRange(pack index.ID, dir string, start, end int64, whole bool) (*spoolFile, error) {
	rc, err := c.store.Get(c.ctx, packKey(pack), start, end-start)
	if err != nil {
		return nil, fmt.Errorf("reading pack %x: %w", pack[:4], damaged(err))
	}
	defer closeRead(rc)
	f, err := newSpool(dir)
	if err != nil {
		return nil, err
	}
	var src io.Reader = rc
	var sum hash.Hash
	if whole {
		sum = sha256.New()
		src = io.TeeReader(rc, sum)
	}
	if _, err := io.CopyN(f, src, end-start); err != nil {
		_ = f.Close() // a spool file: nothing to lose
		if unwritable(err) {
			return nil, fmt.Errorf("%w: keeping pack %x in %s: %w", errSpool, pack[:4], dir, err)
		}
		return nil, fmt.Errorf("reading pack %x: %w", pack[:4], err)
	}
	if sum != nil {
		c.mu.Lock()
		c.sums[pack] = index.ID(sum.Sum(nil)) == pack
		c.mu.Unlock()
	}
	return f, nil
}

// isReady reports whether w's fetch is done.
func isReady(w *packWin) bool {
	select {
	case <-w.ready:
		return true
	default:
		return false
	}
}

// hashed reports whether pack hashed to its id when it was fetched whole;
// known is false when it has not been.
func (c *packCache) hashed(pack index.ID) (ok, known bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ok, known = c.sums[pack]
	return ok, known
}

// statsBeforeList is how many packs' sizes packCache asks for one by one
// before it lists them all: a restore of a few files touches a few packs,
// a whole restore most of them, and one listing (a request per 1000
// packs) is cheaper than a Stat each.
const statsBeforeList = 3

// size returns the pack's size, asking the store once per pack: a call
// for a pack whose size is being asked for waits for that answer.
func (c *packCache) size(pack index.ID) (int64, error) {
	c.mu.Lock()
	for {
		if n, ok := c.sizes[pack]; ok {
			c.mu.Unlock()
			return n, nil
		}
		wait, ok := c.asking[pack]
		if !ok {
			break
		}
		c.mu.Unlock()
		<-wait
		c.mu.Lock() // the size is known now, or asking failed: ask again
	}
	done := make(chan struct{})
	c.asking[pack] = done
	listNow := c.stats == statsBeforeList
	c.stats++ // misses alone: counting every call, the listing came after the first few packs, or never
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.asking, pack)
		c.mu.Unlock()
		close(done)
	}()
	if listNow {
		c.listSizes()
		c.mu.Lock()
		n, ok := c.sizes[pack]
		c.mu.Unlock()
		if ok {
			return n, nil
		}
	}
	info, err := c.store.Stat(c.ctx, packKey(pack))
	if err != nil {
		return 0, fmt.Errorf("pack %x: %w", pack[:4], err)
	}
	c.mu.Lock()
	c.sizes[pack] = info.Size
	c.mu.Unlock()
	return info.Size, nil
}

// listSizes learns the sizes of all packs from one listing; a failure
// leaves the Stats to do the work.
func (c *packCache) listSizes() {
	sizes, err := listIDs(c.ctx, c.store, packPrefix)
	if err != nil {
		return
	}
	c.mu.Lock()
	maps.Copy(c.sizes, sizes)
	c.mu.Unlock()
}
