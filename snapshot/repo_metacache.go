package snapshot

import (
	"cmp"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wimsnap/wimsnap/wim"
)

// metaCacheKeep is how many metadata streams the local cache holds: the
// parents of the next snapshots of a few sources.
const metaCacheKeep = 8

// staleTemp is the age after which a temporary file in the cache is left
// over from a crash rather than being written.
const staleTemp = time.Hour

// metaCache keeps the metadata streams of recent snapshots on local disk,
// zstd-compressed, one file per stream named by its SHA-1, beside the
// local index. An incremental snapshot then reads its parent's image
// without fetching it from the store: over S3 that is the difference
// between a handful of requests and dozens.
//
// It is a cache: every failure is a miss, a file is used only when its
// contents hash to its name, and deleting the directory costs time only.
type metaCache struct {
	dir string
	z   *zcodec
}

// metaCache returns the cache of this repository.
func (r *Repo) metaCache() metaCache {
	return metaCache{dir: strings.TrimSuffix(r.cache, ".db") + ".meta", z: r.zstd}
}

func (c metaCache) path(h wim.Hash) string {
	return filepath.Join(c.dir, hex.EncodeToString(h[:])+".zst")
}

// get returns the stream h of size bytes and the stream sizes stored with
// it (see repo_sizes.go), or false.
func (c metaCache) get(h wim.Hash, size int64) ([]byte, streamSizes, bool) {
	f, err := os.ReadFile(c.path(h))
	if err != nil {
		return nil, streamSizes{}, false
	}
	z, sizes, ok := splitSizes(f)
	var b []byte
	if ok {
		b, err = c.z.expand(z, "cached metadata")
	}
	if !ok || err != nil || int64(len(b)) != size || wimHash(b) != h {
		_ = os.Remove(c.path(h)) // damaged: fetch it again next time
		return nil, streamSizes{}, false
	}
	_ = os.Chtimes(c.path(h), time.Now(), time.Now()) // recently used
	return b, sizes, true
}

// put stores stream b under its hash h, without sizes; see putStored.
func (c metaCache) put(h wim.Hash, b []byte) { c.putStored(h, c.z.compress(b), streamSizes{}) }

// putStored stores stream h, given zstd-compressed (zst), with the sizes
// of its streams when their generation is set, then drops the least
// recently used files beyond metaCacheKeep. Failures are ignored, and a
// nil zst stores nothing.
func (c metaCache) putStored(h wim.Hash, zst []byte, sizes streamSizes) {
	if zst == nil {
		return
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return
	}
	tmp, err := os.CreateTemp(c.dir, ".tmp-*")
	if err != nil {
		return
	}
	_, err = tmp.Write(zst)
	if err == nil && !sizes.gen.IsZero() {
		_, err = tmp.Write(sizes.appendTo(nil))
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), c.path(h))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return
	}
	c.trim()
}

// trim removes all but the metaCacheKeep most recently used streams, and
// temporary files left by a crash.
func (c metaCache) trim() {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	type file struct {
		name string
		used int64
	}
	var files []file
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue
		}
		if strings.HasPrefix(e.Name(), ".tmp-") {
			if time.Since(info.ModTime()) > staleTemp {
				_ = os.Remove(filepath.Join(c.dir, e.Name()))
			}
			continue
		}
		files = append(files, file{e.Name(), info.ModTime().UnixNano()})
	}
	slices.SortFunc(files, func(a, b file) int { return cmp.Or(cmp.Compare(b.used, a.used), strings.Compare(a.name, b.name)) })
	for _, f := range files[min(len(files), metaCacheKeep):] {
		_ = os.Remove(filepath.Join(c.dir, f.name))
	}
}
