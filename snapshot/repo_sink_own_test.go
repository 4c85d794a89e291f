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
// big file at the same time, each unaware of the other, store it once:
// its packs are byte-identical and share their keys (no prune runs, so
// neither salts its packs). With 16 MiB packs, the 36 MiB file makes two:
// the first full, the second with the last 20 MiB, as the 4 MiB left
// after a second full pack join it.
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
	// Every chunk of big.bin is in exactly one pack, of two.
	packs := chunkPacks(t, repos[0], store)
	holding := map[string]bool{}
	for off := 0; off < len(big); off += RepoChunkSize {
		id := index.ID(sha256.Sum256(big[off:min(off+RepoChunkSize, len(big))]))
		if len(packs[id]) != 1 {
			t.Fatalf("chunk at %d of the big file is stored %d times", off, len(packs[id]))
		}
		holding[packs[id][0]] = true
	}
	if len(holding) != 2 {
		t.Errorf("the big file is in %d packs, want 2", len(holding))
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

// TestTakenPackKeySalted: a snapshot that finds a prune lock when its own
// lock is in place salts its packs, so that none of them has the key of a
// pack the prune condemned (here the pack of a first snapshot that was
// forgotten: its index object and manifest gone, the pack not yet), and
// the prune's deletion of the condemned keys, after the snapshot stored
// its packs, loses nothing; before, the snapshot overwrote those keys and
// came out damaged. Without the prune lock, the same snapshot stores its
// packs under the same keys as the first.
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
	unreferenceAll(t, store)
	// Without a prune, the same packs under the same keys.
	again, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: filepath.Join(tmp, "again")})
	if err != nil {
		t.Fatal(err)
	}
	snapshotOK(t, again, src, TakeOptions{})
	if packs, err := listIDs(t.Context(), store, packPrefix); err != nil || len(packs) != len(condemned) {
		t.Fatalf("packs after a snapshot of the same tree without a prune: %d (%v), want the %d there were", len(packs), err, len(condemned))
	}
	unreferenceAll(t, store)
	// A prune holds its lock: it listed the packs, and condemned them.
	second, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: filepath.Join(tmp, "second")})
	if err != nil {
		t.Fatal(err)
	}
	prune, err := second.LockPrune(t.Context(), LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := snapshotOK(t, second, src, TakeOptions{})
	for id := range condemned { // the prune deletes what it condemned
		must(t, store.Delete(t.Context(), packKey(id)))
	}
	must(t, prune.Unlock(t.Context()))
	checkOK(t, second)
	out := filepath.Join(tmp, "out")
	if _, err := second.Restore(t.Context(), res.Manifest, out, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
}

// unreferenceAll deletes every index object and manifest of store, which
// leaves its packs unreferenced, as forgetting every snapshot and a
// prune's first step leave them.
func unreferenceAll(t *testing.T, store remote.Store) {
	t.Helper()
	for _, prefix := range []string{indexPrefix, snapPrefix} {
		ids, err := listIDs(t.Context(), store, prefix)
		if err != nil {
			t.Fatal(err)
		}
		for id := range ids {
			must(t, store.Delete(t.Context(), prefix+hexID(id)))
		}
	}
}
