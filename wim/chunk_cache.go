package wim

import "sync"

// A Reader keeps at most solidCacheChunks decompressed solid chunks. Blobs
// in a solid resource are small and many share a chunk, so without the
// cache each would decompress its chunk again; readers that go through the
// blobs in order (see Reader.SolidOrder), such as apply's workers, need the
// chunk the slowest of them is in and the next, which is decompressed ahead
// of them when chunks are at most maxPrefetchChunk bytes. Larger ones
// (LZMS's 64 MiB) are decompressed when first needed, into the buffer of a
// chunk no reader holds any more.
const (
	solidCacheChunks = 2
	maxPrefetchChunk = 16 << 20
	maxFreeBuffers   = 2
)

// chunkCache holds recently decompressed chunks of solid resources. It is
// safe for concurrent use; a chunk several readers want at once is
// decompressed once. The slices it returns are shared and must not be
// written; each comes with a chunkRef to release when the reader is done
// with it, after which its buffer may be reused.
type chunkCache struct {
	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
	order   []cacheKey // least recently used first
	free    [][]byte   // buffers of evicted chunks no reader holds
}

type cacheKey struct {
	res   *solidRes
	chunk int64
}

// cacheEntry is one chunk; the fields after err are guarded by the cache's
// mu.
type cacheEntry struct {
	ready   chan struct{} // closed once data or err is set
	data    []byte
	err     error
	refs    int  // readers holding data
	cached  bool // in entries
	counted bool // loaded: may be evicted
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

// get returns chunk k of s, calling load to decompress it when it is not
// cached. A failed load is not cached.
func (c *chunkCache) get(s *solidRes, k int64, load func() ([]byte, error)) ([]byte, chunkRef, error) {
	key := cacheKey{s, k}
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[cacheKey]*cacheEntry{}
	}
	if e, ok := c.entries[key]; ok {
		e.refs++
		c.touch(key)
		c.mu.Unlock()
		<-e.ready
		ref := chunkRef{c, e}
		if e.err != nil {
			ref.release()
			return nil, chunkRef{}, e.err
		}
		return e.data, ref, nil
	}
	// Make room first, so that a chunk no reader holds lends its buffer.
	c.evict(true)
	e := &cacheEntry{ready: make(chan struct{}), refs: 1, cached: true}
	c.entries[key] = e
	c.order = append(c.order, key)
	c.mu.Unlock()

	c.finish(key, e, load)
	if e.err != nil {
		chunkRef{c, e}.release()
		return nil, chunkRef{}, e.err
	}
	return e.data, chunkRef{c, e}, nil
}

// prefetch starts decompressing chunk k of s in the background unless it is
// cached or being decompressed; a failure is dropped (the reader that needs
// the chunk decompresses it again and sees the error).
func (c *chunkCache) prefetch(s *solidRes, k int64, load func() ([]byte, error)) {
	key := cacheKey{s, k}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[cacheKey]*cacheEntry{}
	}
	if _, ok := c.entries[key]; ok {
		return
	}
	e := &cacheEntry{ready: make(chan struct{}), cached: true}
	c.entries[key] = e
	c.order = append(c.order, key)
	go c.finish(key, e, load)
}

// finish runs load for entry e and accounts for its result.
func (c *chunkCache) finish(key cacheKey, e *cacheEntry, load func() ([]byte, error)) {
	data, err := load()
	c.mu.Lock()
	defer c.mu.Unlock()
	e.data, e.err = data, err
	close(e.ready)
	if err != nil {
		c.remove(key)
		return
	}
	e.counted = true
	c.evict(false)
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
	if e.cached || e.refs > 0 || e.data == nil {
		return
	}
	if len(c.free) < maxFreeBuffers {
		c.free = append(c.free, e.data)
	}
	e.data = nil
}

// evict drops the least recently used finished chunks while the cache
// holds more than solidCacheChunks, counting one more about to be added
// when adding. Unless adding, the newest chunk always stays.
func (c *chunkCache) evict(adding bool) {
	keep, extra := 1, 0
	if adding {
		keep, extra = 0, 1
	}
	for i := 0; i < len(c.order)-keep && len(c.order)+extra > solidCacheChunks; {
		if e := c.entries[c.order[i]]; e.counted {
			c.remove(c.order[i])
		} else {
			i++ // still loading
		}
	}
}
