package wim

import "sync"

// solidCacheBytes is how many decompressed bytes of solid chunks a Reader
// keeps at most, besides the most recent chunk (which it keeps whatever its
// size). Blobs in a solid resource are small and many share a chunk, so
// without the cache each would decompress its chunk again.
const solidCacheBytes = 128 << 20

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

// evict drops the least recently used finished chunks while the cache holds
// more than solidCacheBytes, always keeping the newest one.
func (c *chunkCache) evict() {
	for i := 0; c.bytes > solidCacheBytes && i < len(c.order)-1; {
		key := c.order[i]
		if e := c.entries[key]; e.counted {
			c.bytes -= int64(len(e.data))
			c.remove(key)
		} else {
			i++ // still loading
		}
	}
}
