package wim

import (
	"slices"
	"sync"
)

// A Reader keeps at most solidCacheChunks decompressed solid chunks. Blobs
// in a solid resource are small and many share a chunk, so without the
// cache each would decompress its chunk again; readers that go through the
// blobs in order (see Reader.SolidOrder), such as apply's workers, need the
// chunk the slowest of them is in and the next, which is decompressed ahead
// of them. Chunks of at most maxPrefetchChunk bytes are decompressed ahead
// at once; larger ones (LZMS's 64 MiB) only while fewer than
// solidCacheChunks chunk buffers are in use, into the buffer of a chunk no
// reader holds any more, so that memory stays at two such chunks (LZMS
// reads compressed bytes as it decompresses; see also solidInputs).
const (
	solidCacheChunks = 2
	maxFreeBuffers   = 2
)

// maxPrefetchChunk is a variable for tests.
var maxPrefetchChunk int64 = 16 << 20

// chunkCache holds recently decompressed chunks of solid resources. It is
// safe for concurrent use; a chunk several readers want at once is
// decompressed once. The slices it returns are shared and must not be
// written; each comes with a chunkRef to release when the reader is done
// with it, after which its buffer may be reused.
type chunkCache struct {
	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
	order   []cacheKey    // least recently used first
	free    [][]byte      // buffers of evicted chunks no reader holds
	using   []*cacheEntry // entries loading, cached or held
	peak    int           // the most entries using has held, for tests
}

type cacheKey struct {
	res   *solidRes
	chunk int64
}

// cacheEntry is one chunk; the fields after err are guarded by the cache's
// mu.
type cacheEntry struct {
	key     cacheKey
	ready   chan struct{} // closed once data or err is set
	data    []byte
	err     error
	refs    int  // readers holding data
	cached  bool // in entries
	counted bool // loaded: may be evicted
	inUse   bool // in the cache's using
}

// chunkRef is a reader's hold on a cached chunk.
type chunkRef struct {
	c *chunkCache
	e *cacheEntry
}

// release ends the hold; releasing the zero chunkRef does nothing.
func (r chunkRef) release() {
	if r.e == nil {
		return
	}
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	r.e.refs--
	r.c.recycle(r.e)
}

// hold takes a hold on chunk k of s, entering it when it is not cached; it
// reports whether the caller is then to load it (finish).
func (c *chunkCache) hold(s *solidRes, k int64) (e *cacheEntry, load bool) {
	key := cacheKey{s, k}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.lookup(key); ok {
		e.refs++
		c.touch(key)
		return e, false
	}
	// Make room first, so that a chunk no reader holds lends its buffer.
	c.evict(true, nil)
	e = c.add(key)
	e.refs = 1
	return e, true
}

// lookup returns the entry of key, if any; the caller holds c.mu.
func (c *chunkCache) lookup(key cacheKey) (*cacheEntry, bool) {
	if c.entries == nil {
		c.entries = map[cacheKey]*cacheEntry{}
	}
	e, ok := c.entries[key]
	return e, ok
}

// wait returns the data of e, on which the caller has a hold, once it is
// loaded; on failure the hold is released.
func (c *chunkCache) wait(e *cacheEntry) ([]byte, chunkRef, error) {
	<-e.ready
	ref := chunkRef{c, e}
	if e.err != nil {
		ref.release()
		return nil, chunkRef{}, e.err
	}
	return e.data, ref, nil
}

// prefetch starts decompressing chunk k of s in the background unless it is
// cached or being decompressed; a failure is dropped (the reader that needs
// the chunk decompresses it again and sees the error).
func (c *chunkCache) prefetch(s *solidRes, k int64, load func() ([]byte, error)) {
	key := cacheKey{s, k}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.lookup(key); ok {
		return
	}
	go c.finish(c.add(key), load)
}

// prefetchBounded is prefetch of chunk k+1 of s for a reader in chunk k,
// into the buffer of a chunk no reader holds, evicted to make room while
// solidCacheChunks chunk buffers or more are in use; it does nothing when
// that leaves no room. Of s, only chunks before the lowest one a reader
// holds are evicted: readers going through the blobs in order need none
// of those again, but a reader whose blob goes on past its chunk needs
// the chunks after it.
func (c *chunkCache) prefetchBounded(s *solidRes, k int64, load func() ([]byte, error)) {
	k++
	key := cacheKey{s, k}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.lookup(key); ok {
		return
	}
	behind := c.lowestHeld(s)
	for i := 0; i < len(c.order) && len(c.using) >= solidCacheChunks; {
		old := c.order[i]
		if e := c.entries[old]; e.counted && e.refs == 0 && (old.res != s || old.chunk < behind) {
			c.remove(old)
		} else {
			i++
		}
	}
	if len(c.using) < solidCacheChunks {
		go c.finish(c.add(key), load)
	}
}

// add enters a new entry, loading, for key.
func (c *chunkCache) add(key cacheKey) *cacheEntry {
	e := &cacheEntry{key: key, ready: make(chan struct{}), cached: true, inUse: true}
	c.entries[key] = e
	c.order = append(c.order, key)
	c.using = append(c.using, e)
	c.peak = max(c.peak, len(c.using))
	return e
}

// lowestHeld returns the lowest number of a chunk of s that a reader
// holds, or the chunk count when none is held.
func (c *chunkCache) lowestHeld(s *solidRes) int64 {
	low := s.n
	for _, e := range c.using {
		if e.refs > 0 && e.key.res == s {
			low = min(low, e.key.chunk)
		}
	}
	return low
}

// finish runs load for entry e and accounts for its result.
func (c *chunkCache) finish(e *cacheEntry, load func() ([]byte, error)) {
	data, err := load()
	c.mu.Lock()
	defer c.mu.Unlock()
	e.data, e.err = data, err
	close(e.ready)
	if err != nil {
		c.remove(e.key)
		return
	}
	e.counted = true
	c.evict(false, &e.key)
}

// buffer returns a free buffer of at least size bytes, or nil.
func (c *chunkCache) buffer(size int64) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, b := range c.free {
		if int64(cap(b)) >= size {
			c.free = append(c.free[:i], c.free[i+1:]...)
			return b[:0]
		}
	}
	return nil
}

// touch moves key to the most recently used end.
func (c *chunkCache) touch(key cacheKey) {
	for i, k := range c.order {
		if k == key {
			copy(c.order[i:], c.order[i+1:])
			c.order[len(c.order)-1] = key
			return
		}
	}
}

// remove drops key from the cache; its buffer is recycled once no reader
// holds it.
func (c *chunkCache) remove(key cacheKey) {
	e := c.entries[key]
	delete(c.entries, key)
	for i, k := range c.order {
		if k == key {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
	if e != nil {
		e.counted, e.cached = false, false
		c.recycle(e)
	}
}

// recycle keeps the buffer of an entry that is out of the cache and held by
// no reader for the next decompression.
func (c *chunkCache) recycle(e *cacheEntry) {
	if e.cached || e.refs > 0 {
		return
	}
	if e.inUse {
		e.inUse = false
		c.using = slices.DeleteFunc(c.using, func(u *cacheEntry) bool { return u == e })
	}
	if e.data != nil && len(c.free) < maxFreeBuffers {
		c.free = append(c.free, e.data)
	}
	e.data = nil
}

// evict drops the least recently used finished chunks while the cache
// holds more than solidCacheChunks, counting one more about to be added
// when adding; keep, when not nil, stays.
func (c *chunkCache) evict(adding bool, keep *cacheKey) {
	extra := 0
	if adding {
		extra = 1
	}
	for i := 0; i < len(c.order) && len(c.order)+extra > solidCacheChunks; {
		if k := c.order[i]; c.entries[k].counted && (keep == nil || k != *keep) {
			c.remove(k)
		} else {
			i++ // still loading, or to stay
		}
	}
}
