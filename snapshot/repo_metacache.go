package snapshot

import (
	"cmp"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
)

// metaCacheKeep and metaCacheBytes bound the local cache: the images of
// the last few snapshots, the parents of the next snapshots of a few
// sources, within a disk budget (the newest image is kept whatever its
// size).
const (
	metaCacheKeep  = 8
	metaCacheBytes = 512 << 20
)

// staleTemp is the age after which a temporary file in the cache is left
// over from a crash rather than being written.
const staleTemp = time.Hour

// metaCache keeps the metadata streams of recent snapshots on local disk,
// one file per stream named by its SHA-1, beside the local index. An
// incremental snapshot then reads its parent's image without fetching it
// from the store: over S3 that is the difference between a handful of
// requests and dozens. The streams are stored as they are, so that a
// snapshot writes its image there as it encodes it and the next one maps
// the file rather than expanding it into fresh memory; a file may end with
// the sizes of the image's streams (see repo_sizes.go).
//
// It is a cache: every failure is a miss, a file is used only when its
// contents hash to its name, and deleting the directory costs time only.
type metaCache struct {
	dir string
}

// metaCache returns the cache of this repository.
func (r *Repo) metaCache() metaCache {
	return metaCache{dir: strings.TrimSuffix(r.cache, ".db") + ".meta"}
}

func (c metaCache) path(h wim.Hash) string {
	return filepath.Join(c.dir, hex.EncodeToString(h[:])+".img")
}

// load returns the image h, of size bytes, parsed, with its stream sizes
// set when the cache holds them under the index generation gen (sized);
// hit is false when the cache cannot serve it. An error is the image's
// own: it hashes to its name but does not parse.
func (c metaCache) load(h wim.Hash, size int64, gen index.Generation) (md *wim.Metadata, sized, hit bool, err error) {
	b, release, err := readMapped(c.path(h))
	if err != nil {
		return nil, false, false, nil
	}
	defer release()
	faulted := guardFault(func() {
		body, sizes, ok := splitSizes(b)
		if !ok || int64(len(body)) != size || wimHash(body) != h {
			_ = os.Remove(c.path(h)) // damaged: fetch it again next time
			return
		}
		hit = true
		if md, err = wim.ParseMetadata(body); err == nil {
			sized = !gen.IsZero() && gen == sizes.gen && sizes.apply(md)
		}
	})
	if faulted {
		return nil, false, false, nil
	}
	if hit {
		_ = os.Chtimes(c.path(h), time.Now(), time.Now()) // recently used
	}
	return md, sized, hit, err
}

// guardFault runs fn, which reads a mapped file, and reports whether a
// fault cut it short (the file was truncated by someone else meanwhile):
// that is a panic here rather than the end of the process.
func guardFault(fn func()) (faulted bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(interface{ Addr() uintptr }); !ok {
				panic(v) // not a memory fault
			}
			faulted = true
		}
	}()
	fn()
	return false
}

// put stores stream b under its hash h, without sizes.
func (c metaCache) put(h wim.Hash, b []byte) {
	if f := c.create(); f != nil {
		_, f.err = f.f.Write(b)
		f.commit(h, streamSizes{})
	}
}

// cacheFile is a stream being written into the cache: a temporary file
// until commit names it.
type cacheFile struct {
	c   metaCache
	f   *os.File
	err error // of the first write that failed
}

// create starts a stream; nil when the cache cannot take one.
func (c metaCache) create() *cacheFile {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return nil
	}
	f, err := os.CreateTemp(c.dir, ".tmp-*")
	if err != nil {
		return nil
	}
	return &cacheFile{c: c, f: f}
}

// Write writes to the stream; after a failure it only remembers it.
func (f *cacheFile) Write(p []byte) (int, error) {
	if f.err == nil {
		_, f.err = f.f.Write(p)
	}
	return len(p), nil
}

// commit ends the stream, which is h, with the sizes of its streams when
// their generation is set, names it, and drops the least recently used
// files beyond the cache's bounds. Failures only leave the stream out.
func (f *cacheFile) commit(h wim.Hash, sizes streamSizes) {
	err := f.err
	if err == nil && !sizes.gen.IsZero() {
		_, err = f.f.Write(sizes.appendTo(nil))
	}
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.f.Name(), f.c.path(h))
	}
	if err != nil {
		_ = os.Remove(f.f.Name())
		return
	}
	f.c.trim()
}

// abort drops the stream.
func (f *cacheFile) abort() {
	_ = f.f.Close()
	_ = os.Remove(f.f.Name())
}

// trim keeps the most recently used streams within metaCacheKeep files
// and metaCacheBytes (the newest is kept whatever its size), and removes
// the rest, files of an older layout, and temporary files left by a crash.
func (c metaCache) trim() { c.trimTo(metaCacheKeep, metaCacheBytes) }

func (c metaCache) trimTo(keep int, budget int64) {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	type file struct {
		name string
		used int64
		size int64
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
		files = append(files, file{e.Name(), info.ModTime().UnixNano(), info.Size()})
	}
	slices.SortFunc(files, func(a, b file) int { return cmp.Or(cmp.Compare(b.used, a.used), strings.Compare(a.name, b.name)) })
	kept, total := 0, int64(0)
	for _, f := range files {
		total += f.size
		if strings.HasSuffix(f.name, ".img") && kept < keep && (kept == 0 || total <= budget) {
			kept++
			continue
		}
		_ = os.Remove(filepath.Join(c.dir, f.name))
	}
}
