//go:build unix

package snapshot

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestOwnPacksDeduplicateHosts: two machines that snapshot the same new
// big file at the same time, each unaware of the other, build
// byte-identical packs: they share their keys when both look for a key
// before either stores it, and the later one stores a salted copy when
// the other's pack is there already (see freshPack), so each chunk is
// stored once or twice, never lost. With 16 MiB packs, the 36 MiB file
// makes two: the first full, the second with the last 20 MiB, as the
// 4 MiB left after a second full pack join it.
func TestOwnPacksDeduplicateHosts(t *testing.T) {
	tmp := t.TempDir()
	store := remote.NewMemory()
	if _, err := InitRepo(t.Context(), store, wim.CompressXPRESS); err != nil {
		t.Fatal(err)
	}
	big := wimtest.RandomBytes(11, 36<<20+12345)
	var repos [2]*Repo
	var srcs [2]string
	for i := range repos {
		r, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: filepath.Join(tmp, "cache", string(rune('a'+i)))})
		if err != nil {
			t.Fatal(err)
		}
		r.packSize = 16 << 20
		repos[i] = r
		srcs[i] = filepath.Join(tmp, "src", string(rune('a'+i)))
		wimtest.MakeTree(t, srcs[i], wimtest.TreeOptions{})
		writeTestFile(t, filepath.Join(srcs[i], "big.bin"), big)
		writeTestFile(t, filepath.Join(srcs[i], "own.bin"), wimtest.RandomBytes(uint64(20+i), 1<<20))
	}
	// Both sync before either stores anything: neither knows the other's
	// chunks, as when two machines start together.
	var wg sync.WaitGroup
	results := make([]TakeResult, 2)
	errs := make([]error, 2)
	start := make(chan struct{})
	for i := range repos {
		if _, err := repos[i].Sync(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = repos[i].Snapshot(t.Context(), srcs[i], TakeOptions{Host: string(rune('a' + i))})
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Every chunk of big.bin is in one pack of each machine's two, the
	// same pack or not.
	packs := chunkPacks(t, repos[0], store)
	holding := map[string]bool{}
	for off := 0; off < len(big); off += RepoChunkSize {
		id := index.ID(sha256.Sum256(big[off:min(off+RepoChunkSize, len(big))]))
		if n := len(packs[id]); n != 1 && n != 2 {
			t.Fatalf("chunk at %d of the big file is stored %d times", off, n)
		}
		for _, p := range packs[id] {
			holding[p] = true
		}
	}
	if n := len(holding); n != 2 && n != 3 && n != 4 {
		t.Errorf("the big file is in %d packs, want 2 to 4", n)
	}
	for i, r := range repos {
		if cr, err := r.Check(t.Context(), CheckOptions{ReadData: true}); err != nil || len(cr.Problems) != 0 {
			t.Fatalf("check: %v %q", err, cr.Problems)
		}
		out := filepath.Join(tmp, "out", string(rune('a'+i)))
		if _, err := r.Restore(t.Context(), results[i].Manifest, out, RestoreOptions{}); err != nil {
			t.Fatal(err)
		}
		wimtest.CompareTrees(t, srcs[i], out, wimtest.CompareOptions{})
	}
}

// TestOwnPacksFill: a big stream's own packs fill to the pack size with
// stored (compressed) bytes, not raw ones: 40 MiB that compress well make
// one pack, not one per 16 MiB read.
func TestOwnPacksFill(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	must(t, os.MkdirAll(src, 0o755))
	big := wimtest.RandomBytes(5, 40<<20)
	for i, b := range big {
		big[i] = "ACGT"[b&3]
	}
	writeTestFile(t, filepath.Join(src, "genome.txt"), big)
	r, faulty := faultyRepo(t, filepath.Join(tmp, "cache"))
	snapshotOK(t, r, src, TakeOptions{})
	packs := chunkPacks(t, r, faulty)
	holding := map[string]bool{}
	for off := 0; off < len(big); off += RepoChunkSize {
		for _, key := range packs[index.ID(sha256.Sum256(big[off:off+RepoChunkSize]))] {
			holding[key] = true
		}
	}
	if len(holding) != 1 {
		t.Errorf("the big file's chunks are in %d packs, want 1", len(holding))
	}
}

// chunkPacks reads every pack in store and returns the keys of the packs
// that hold each chunk.
func chunkPacks(t *testing.T, r *Repo, store remote.Store) map[index.ID][]string {
	t.Helper()
	packs := map[index.ID][]string{}
	if err := store.List(t.Context(), packPrefix, func(info remote.Info) error {
		data, err := remote.ReadAll(t.Context(), store, info.Key, maxPack)
		if err != nil {
			return err
		}
		entries, err := parsePackBytes(r.zstd, data)
		for _, e := range entries {
			packs[e.id] = append(packs[e.id], info.Key)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return packs
}

// TestTakenPackKeySalted: a snapshot that builds a pack whose key the
// store holds unknown to its index (here the pack of a first snapshot
// that was forgotten and that a prune condemned: its index object and
// manifest gone, the pack not yet) stores a salted copy under another
// key, so that the prune's deletion of the condemned key, after the
// snapshot stored its pack, loses nothing. It overwrote that key before,
// and its snapshot came out damaged.
func TestTakenPackKeySalted(t *testing.T) {
	tmp := t.TempDir()
	store := remote.NewMemory()
	if _, err := InitRepo(t.Context(), store, wim.CompressXPRESS); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(tmp, "src")
	must(t, os.MkdirAll(src, 0o755))
	writeTestFile(t, filepath.Join(src, "big.bin"), wimtest.RandomBytes(3, 20<<20))
	first, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: filepath.Join(tmp, "first")})
	if err != nil {
		t.Fatal(err)
	}
	snapshotOK(t, first, src, TakeOptions{})
	condemned, err := listIDs(t.Context(), store, packPrefix)
	if err != nil || len(condemned) == 0 {
		t.Fatalf("packs %v (%v)", condemned, err)
	}
	for _, prefix := range []string{indexPrefix, snapPrefix} {
		ids, err := listIDs(t.Context(), store, prefix)
		if err != nil {
			t.Fatal(err)
		}
		for id := range ids {
			must(t, store.Delete(t.Context(), prefix+hexID(id)))
		}
	}
	second, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: filepath.Join(tmp, "second")})
	if err != nil {
		t.Fatal(err)
	}
	res := snapshotOK(t, second, src, TakeOptions{})
	for id := range condemned { // the prune deletes what it condemned
		must(t, store.Delete(t.Context(), packKey(id)))
	}
	checkOK(t, second)
	out := filepath.Join(tmp, "out")
	if _, err := second.Restore(t.Context(), res.Manifest, out, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
}
