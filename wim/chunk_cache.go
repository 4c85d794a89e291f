package wim

import "sync"

// A Reader keeps at most solidCacheChunks decompressed solid chunks, and
// beyond the most recent one at most solidCacheBytes. Blobs in a solid
// resource are small and many share a chunk, so without the cache each would
// decompress its chunk again; readers that go through the blobs in order
// (see Reader.SolidOrder) need only the chunk they are in and the next,
// which is decompressed ahead of them.
const (
	solidCacheChunks = 3
	solidCacheBytes  = 128 << 20
)

// chunkCache holds recently decompressed chunks of solid resources. It is
// safe for concurrent use; a chunk several readers want at once is
// decompressed once. The slices it returns are shared and must not be
// written.
type chunkCache struct {
	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
	order   []cacheKey // least recently used first
	bytes   int64
}

type cacheKey struct {
	res   *solidRes
	chunk int64
}

type cacheEntry struct {
	ready   chan struct{} // closed once data or err is set
	data    []byte
	err     error
	counted bool // data is in bytes (guarded by the cache's mu)
}

// get returns chunk k of s, calling load to decompress it when it is not
// cached. A failed load is not cached.
func (c *chunkCache) get(s *solidRes, k int64, load func() ([]byte, error)) ([]byte, error) {
	key := cacheKey{s, k}
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[cacheKey]*cacheEntry{}
	}
	if e, ok := c.entries[key]; ok {
		c.touch(key)
		c.mu.Unlock()
		<-e.ready
		return e.data, e.err
	}
	e := &cacheEntry{ready: make(chan struct{})}
	c.entries[key] = e
	c.order = append(c.order, key)
	c.mu.Unlock()

	e.data, e.err = load()
	close(e.ready)

	c.mu.Lock()
	defer c.mu.Unlock()
	if e.err != nil {
		c.remove(key)
		return nil, e.err
	}
	e.counted = true
	c.bytes += int64(len(e.data))
	c.evict()
	return e.data, nil
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

// remove drops key from the cache.
func (c *chunkCache) remove(key cacheKey) {
	delete(c.entries, key)
	for i, k := range c.order {
		if k == key {
			c.order = append(c.order[:i], c.order[i+1:]...)
			return
		}
	}
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
	e := &cacheEntry{ready: make(chan struct{})}
	c.entries[key] = e
	c.order = append(c.order, key)
	go func() {
		e.data, e.err = load()
		close(e.ready)
		c.mu.Lock()
		defer c.mu.Unlock()
		if e.err != nil {
			c.remove(key)
			return
		}
		e.counted = true
		c.bytes += int64(len(e.data))
		c.evict()
	}()
}

// evict drops the least recently used finished chunks while the cache holds
// more than solidCacheChunks or, besides the newest, solidCacheBytes.
func (c *chunkCache) evict() {
	for i := 0; (c.bytes > solidCacheBytes || len(c.order) > solidCacheChunks) && i < len(c.order)-1; {
		key := c.order[i]
		if e := c.entries[key]; e.counted {
			c.bytes -= int64(len(e.data))
			c.remove(key)
		} else {
			i++ // still loading
		}
	}
}
