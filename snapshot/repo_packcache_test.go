//go:build unix

package snapshot

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// getLog is a store that records the ranges Get was asked for.
type getLog struct {
	remote.Store
	mu     sync.Mutex
	ranges [][2]int64 // offset, length
}

func (g *getLog) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	g.mu.Lock()
	g.ranges = append(g.ranges, [2]int64{off, length})
	g.mu.Unlock()
	return g.Store.Get(ctx, key, off, length)
}

func (g *getLog) take() [][2]int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.ranges
	g.ranges = nil
	return r
}

// takeBytes is take's bytes in all.
func (g *getLog) takeBytes() int64 {
	var n int64
	for _, r := range g.take() {
		n += r[1]
	}
	return n
}

// TestPackCacheExpected: a window fetches only the small part of a pack
// that reads were announced for; a read outside it fetches the whole
// window, which then serves every read.
func TestPackCacheExpected(t *testing.T) {
	store := &getLog{Store: remote.NewMemory()}
	pack := index.ID{1, 2, 3}
	data := wimtest.RandomBytes(7, 4<<20)
	if err := store.Put(t.Context(), packKey(pack), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	c := newPackCache(t.Context(), store, &readSpool{dir: filepath.Join(t.TempDir(), "spool")}, packWindows*packWindow)
	defer c.close()
	c.expect(pack, 1000, 3000)
	c.expect(pack, 5000, 6000) // widens it: 1000 to 6000
	read := func(off, n int64) {
		t.Helper()
		dst := make([]byte, n)
		if _, err := c.readAt(dst, pack, off, nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(dst, data[off:off+n]) {
			t.Fatalf("bytes at %d differ", off)
		}
	}
	read(1000, 500)
	read(5500, 500)
	if got := store.take(); len(got) != 1 || got[0] != [2]int64{1000, 5000} {
		t.Errorf("Gets %v, want one of 5000 bytes at 1000", got)
	}
	read(3<<20, 100) // outside: the whole window
	read(1000, 10)
	if got := store.take(); len(got) != 1 || got[0] != [2]int64{0, int64(len(data))} {
		t.Errorf("Gets %v, want the whole pack once", got)
	}
	// A large expected part is not worth a window of its own.
	c2 := newPackCache(t.Context(), store, &readSpool{dir: filepath.Join(t.TempDir(), "spool")}, packWindows*packWindow)
	defer c2.close()
	c2.expect(pack, 0, 3<<20)
	if _, err := c2.readAt(make([]byte, 10), pack, 0, nil); err != nil {
		t.Fatal(err)
	}
	if got := store.take(); len(got) != 1 || got[0][1] != int64(len(data)) {
		t.Errorf("Gets %v, want the whole pack", got)
	}
}

// TestPackCacheExpectedApart: two small expected parts far apart in a
// pack are fetched each alone, not all between them (33 MB fetched for a
// restore of two files of 256 KB); parts within spanGap are one.
func TestPackCacheExpectedApart(t *testing.T) {
	store := &getLog{Store: remote.NewMemory()}
	pack := index.ID{4}
	data := wimtest.RandomBytes(8, 8<<20)
	if err := store.Put(t.Context(), packKey(pack), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	c := newPackCache(t.Context(), store, &readSpool{dir: filepath.Join(t.TempDir(), "spool")}, packWindows*packWindow)
	defer c.close()
	c.expect(pack, 7<<20, 7<<20+100)
	c.expect(pack, 1000, 2000)
	c.expect(pack, 3000, 4000) // within spanGap of the one before
	for _, r := range [][2]int64{{1000, 1000}, {3000, 1000}, {7 << 20, 100}} {
		dst := make([]byte, r[1])
		if _, err := c.readAt(dst, pack, r[0], nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(dst, data[r[0]:r[0]+r[1]]) {
			t.Fatalf("bytes at %d differ", r[0])
		}
	}
	got := store.take()
	slices.SortFunc(got, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	if want := [][2]int64{{1000, 3000}, {7 << 20, 100}}; !slices.Equal(got, want) {
		t.Errorf("Gets %v, want %v", got, want)
	}
}

// TestPackCacheRefetchesSlices: reads that go back and forth between
// packs larger together than the cache's budget fetch each pack whole
// once; a window the budget let go is read after in slices of
// refetchSlice, each its own window, so that two readers in different
// parts of it fetch a slice each, once, rather than pushing each other's
// out (84 MiB fetched for 2 MiB read when a window held one slice).
func TestPackCacheRefetchesSlices(t *testing.T) {
	store := &getLog{Store: remote.NewMemory()}
	const size = 16 << 20
	packs := []index.ID{{1}, {2}}
	data := [][]byte{wimtest.RandomBytes(1, size), wimtest.RandomBytes(2, size)}
	for i, p := range packs {
		if err := store.Put(t.Context(), packKey(p), bytes.NewReader(data[i]), size); err != nil {
			t.Fatal(err)
		}
	}
	c := newPackCache(t.Context(), store, &readSpool{dir: filepath.Join(t.TempDir(), "spool")}, size+size/4)
	defer c.close()
	read := func(i int, off int64) {
		dst := make([]byte, 32<<10)
		if _, err := c.readAt(dst, packs[i], off, nil); err != nil {
			t.Error(err)
			return
		}
		if !bytes.Equal(dst, data[i][off:off+int64(len(dst))]) {
			t.Errorf("pack %d: bytes at %d differ", i, off)
		}
	}
	read(0, 0)
	read(1, 0) // over the budget: pack 0 goes
	if got := store.take(); len(got) != 2 || got[0][1] != size || got[1][1] != size {
		t.Fatalf("Gets %v, want each pack whole", got)
	}
	var wg sync.WaitGroup
	for _, from := range []int64{1 << 20, 10 << 20} {
		wg.Go(func() {
			for off := from; off < from+1<<20; off += 32 << 10 {
				read(0, off)
			}
		})
	}
	wg.Wait()
	got := store.take()
	slices.SortFunc(got, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	if want := [][2]int64{{0, refetchSlice}, {2 * refetchSlice, refetchSlice}}; !slices.Equal(got, want) {
		t.Errorf("Gets %v for 2 MiB read in two places of a window let go, want the two slices %v", got, want)
	}
}

// TestPackCacheUsedOnce: the windows a stream's reads used are listed
// once for each run of reads from the same window, not once per read: the
// list of a 20 GiB file read chunk by chunk held 48 MB.
func TestPackCacheUsedOnce(t *testing.T) {
	store := remote.NewMemory()
	pack := index.ID{4, 5, 6}
	data := wimtest.RandomBytes(8, 1<<20)
	if err := store.Put(t.Context(), packKey(pack), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	c := newPackCache(t.Context(), store, &readSpool{dir: filepath.Join(t.TempDir(), "spool")}, packWindows*packWindow)
	defer c.close()
	var used []winKey
	dst := make([]byte, 1<<10)
	for off := int64(0); off < int64(len(data)); off += int64(len(dst)) {
		var err error
		if used, err = c.readAt(dst, pack, off, used); err != nil {
			t.Fatal(err)
		}
	}
	if len(used) != 1 {
		t.Errorf("%d windows listed for 1024 reads of one window, want 1", len(used))
	}
}

// statLog is a store that counts the Stats of packs and the listings of
// packs/.
type statLog struct {
	remote.Store
	stats, lists atomic.Int64
}

func (s *statLog) Stat(ctx context.Context, key string) (remote.Info, error) {
	if strings.HasPrefix(key, packPrefix) {
		s.stats.Add(1)
	}
	return s.Store.Stat(ctx, key)
}

func (s *statLog) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	if prefix == packPrefix {
		s.lists.Add(1)
	}
	return s.Store.List(ctx, prefix, fn)
}

// TestRestoreListsPackSizes: a restore of a snapshot whose files lie in
// many packs asks the sizes of the first few one by one, then lists them
// all: counting the sizes it knew already too, it made a HEAD request per
// pack (239 for a restore of 186 packs from S3) and never listed.
func TestRestoreListsPackSizes(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	store := &statLog{Store: remote.NewMemory()}
	r := repoOn(t, store, wim.CompressNone, filepath.Join(tmp, "cache"))
	must(t, os.MkdirAll(src, 0o755))
	var m *Manifest
	for i := range 8 { // a pack per snapshot
		writeTestFile(t, filepath.Join(src, fmt.Sprint("f", i)), wimtest.RandomBytes(uint64(i), 100<<10))
		m = snapshotOK(t, r, src, TakeOptions{}).Manifest
	}
	cold, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: filepath.Join(tmp, "cold")})
	must(t, err)
	if _, err := cold.Snapshots(t.Context()); err != nil { // the sync, which lists the packs once
		t.Fatal(err)
	}
	store.stats.Store(0)
	store.lists.Store(0)
	if _, err := cold.Restore(t.Context(), m, filepath.Join(tmp, "out"), RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	wimtest.CompareTrees(t, src, filepath.Join(tmp, "out"), wimtest.CompareOptions{})
	// One more Stat: the pack of the image, read before the files.
	if n, l := store.stats.Load(), store.lists.Load(); n > statsBeforeList+1 || l != 1 {
		t.Errorf("restoring from 8 packs: %d Stats of packs and %d listings; want at most %d and 1", n, l, statsBeforeList+1)
	}
}
