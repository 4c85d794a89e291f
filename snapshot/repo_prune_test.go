//go:build unix

package snapshot

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// pruneOK prunes r and fails the test on an error or a warning.
func pruneOK(t *testing.T, r *Repo, opts PruneOptions) PruneResult {
	t.Helper()
	opts.Warn = func(err error) { t.Errorf("prune warning: %v", err) }
	res, err := r.Prune(t.Context(), opts)
	if err != nil {
		t.Fatalf("prune: %v", err)
	}
	t.Logf("prune: %+v", res)
	return res
}

// checkOK runs check --read-data and fails the test on any problem.
func checkOK(t *testing.T, r *Repo) CheckResult {
	t.Helper()
	res, err := r.Check(t.Context(), CheckOptions{ReadData: true})
	if err != nil || len(res.Problems) > 0 {
		t.Fatalf("check: %v %q", err, res.Problems)
	}
	return res
}

// TestPruneFreesForgotten: after forgetting snapshots, prune deletes the
// data only they used, repacks packs they shared with kept snapshots, and
// leaves a repository that checks and whose snapshots restore; a second
// prune finds nothing to do.
func TestPruneFreesForgotten(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	r, faulty := faultyRepo(t, filepath.Join(tmp, "cache"))
	var snaps []*Manifest
	var trees []string
	must(t, os.MkdirAll(src, 0o755))
	for i := range 4 {
		// Each round replaces a big file and adds small ones.
		writeTestFile(t, filepath.Join(src, "big.bin"), wimtest.RandomBytes(uint64(i), 6<<20))
		writeFiles(t, src, map[string]string{fmt.Sprintf("small/%d.txt", i): fmt.Sprint("round ", i)})
		snaps = append(snaps, snapshotOK(t, r, src, TakeOptions{}).Manifest)
		copyTree := filepath.Join(tmp, fmt.Sprint("tree", i))
		if _, err := r.Restore(t.Context(), snaps[i], copyTree, RestoreOptions{}); err != nil {
			t.Fatal(err)
		}
		trees = append(trees, copyTree)
	}
	before, err := listIDs(t.Context(), faulty, packPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.Forget(t.Context(), snaps[:2], LockOptions{}); err != nil || n != 2 {
		t.Fatalf("forget: %d %v", n, err)
	}
	dry, err := r.Prune(t.Context(), PruneOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	res := pruneOK(t, r, PruneOptions{})
	if res.PacksDeleted == 0 || res.BytesFreed < 10<<20 || res.Snapshots != 2 {
		t.Errorf("prune freed too little: %+v", res)
	}
	if dry.PacksDeleted != res.PacksDeleted || dry.PacksRepacked != res.PacksRepacked {
		t.Errorf("dry run %+v, prune %+v", dry, res)
	}
	after, err := listIDs(t.Context(), faulty, packPrefix)
	if err != nil {
		t.Fatal(err)
	}
	var sizeBefore, sizeAfter int64
	for _, n := range before {
		sizeBefore += n
	}
	for _, n := range after {
		sizeAfter += n
	}
	if sizeBefore-sizeAfter != res.BytesFreed {
		t.Errorf("packs went from %d to %d bytes, prune says it freed %d", sizeBefore, sizeAfter, res.BytesFreed)
	}
	checkOK(t, r)
	for i := 2; i < 4; i++ {
		out := filepath.Join(tmp, fmt.Sprint("out", i))
		if _, err := r.Restore(t.Context(), snaps[i], out, RestoreOptions{}); err != nil {
			t.Fatal(err)
		}
		wimtest.CompareTrees(t, trees[i], out, wimtest.CompareOptions{IgnoreRoot: true})
	}
	again := pruneOK(t, r, PruneOptions{})
	if again.PacksDeleted != 0 || again.PacksRepacked != 0 || again.IndexWritten != 0 {
		t.Errorf("second prune did something: %+v", again)
	}
}

// gateStore holds the first Put under prefix until release is closed,
// closing reached when it gets there.
type gateStore struct {
	remote.Store
	prefix           string
	reached, release chan struct{}
	once             sync.Once
}

func (g *gateStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if strings.HasPrefix(key, g.prefix) {
		g.once.Do(func() {
			close(g.reached)
			<-g.release
		})
	}
	return g.Store.Put(ctx, key, r, size)
}

// machines returns an in-memory repository and the function that opens it
// as a machine of its own: name names its local index, in tmp.
func machines(t *testing.T, tmp string) (remote.Store, func(s remote.Store, name string) *Repo) {
	t.Helper()
	store := remote.NewMemory()
	if _, err := InitRepo(t.Context(), store, wim.CompressXPRESS); err != nil {
		t.Fatal(err)
	}
	return store, func(s remote.Store, name string) *Repo {
		r, err := OpenRepo(t.Context(), s, RepoOptions{CacheDir: filepath.Join(tmp, "cache-"+name)})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
}

// TestPruneBesideOlderSnapshot: a snapshot that started before the prune,
// deduplicated against data only a forgotten snapshot used (its parent,
// against which it stores a delta recipe), and commits while the prune
// runs, keeps that data: the prune waits for its lock and deletes no pack
// it uses, and the snapshot, finding the index it read replaced, names
// that data again before its manifest. When the prune's wait runs out
// first, the snapshot still checks and restores everywhere at once, and
// the next prune finishes the work from the retired objects left behind.
//
// Stopped at its manifest instead, after that check, the snapshot looks
// again once its manifest is stored, and names the data again then: it
// checks and restores everywhere at once too. (It relied on the prune's
// put-back, and when that prune's wait ran out, or it was killed, did not
// check on another machine until repair or the next prune.)
func TestPruneBesideOlderSnapshot(t *testing.T) {
	for _, tc := range []struct {
		stopAt  string
		waitOut bool
	}{{indexPrefix, false}, {indexPrefix, true}, {snapPrefix, false}, {snapPrefix, true}} {
		waitOut := tc.waitOut
		t.Run(fmt.Sprintf("stopAt=%s,waitOut=%v", tc.stopAt, waitOut), func(t *testing.T) {
			tmp := t.TempDir()
			store, open := machines(t, tmp)
			src := filepath.Join(tmp, "src")
			must(t, os.MkdirAll(src, 0o755))
			big := wimtest.RandomBytes(1, 2<<20)
			writeTestFile(t, filepath.Join(src, "big.bin"), big)
			writeFiles(t, src, map[string]string{"a.txt": "first"})
			gone := wimtest.RandomBytes(7, 1<<20)
			writeTestFile(t, filepath.Join(src, "gone.bin"), gone)
			ra := open(store, "a")
			parent := snapshotOK(t, ra, src, TakeOptions{}).Manifest

			// The second snapshot reads the changed file against its
			// parent, then stops before committing.
			copy(big[1<<20:], "changed")
			writeTestFile(t, filepath.Join(src, "big.bin"), big)
			// A new file holds a deleted one's data: its chunks are
			// deduplicated, not stored, by a stream the run stores, and
			// only the forgotten parent's objects name them.
			must(t, os.Remove(filepath.Join(src, "gone.bin")))
			writeTestFile(t, filepath.Join(src, "copy.bin"), append(bytes.Clone(gone), "suffix"...))
			gate := &gateStore{Store: store, prefix: tc.stopAt, reached: make(chan struct{}), release: make(chan struct{})}
			rb := open(gate, "a") // the same machine: its index knows the parent
			done := make(chan TakeResult)
			go func() {
				res, err := rb.Snapshot(t.Context(), src, TakeOptions{Host: "testhost"})
				if err != nil {
					t.Error(err)
				}
				done <- res
			}()
			<-gate.reached
			if _, err := ra.Forget(t.Context(), []*Manifest{parent}, LockOptions{}); err != nil {
				t.Fatal(err)
			}
			rp := open(store, "p")
			opts := PruneOptions{Lock: LockOptions{Sleep: func(context.Context, time.Duration) error {
				time.Sleep(10 * time.Millisecond)
				return nil
			}}}
			var waited atomic.Bool
			opts.Warn = func(err error) {
				if !strings.Contains(err.Error(), "waiting up to") && !strings.Contains(err.Error(), "left for a later prune") {
					t.Errorf("prune warning: %v", err)
				}
				waited.Store(true)
				if !waitOut {
					close(gate.release)
				}
			}
			if waitOut {
				opts.Wait = time.Nanosecond
			}
			res, err := rp.Prune(t.Context(), opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("prune: %+v", res)
			if !waited.Load() {
				t.Error("prune did not wait for the older snapshot")
			}
			if waitOut {
				if res.Pending == 0 || res.PacksDeleted != 0 {
					t.Errorf("a prune whose wait ran out: %+v", res)
				}
				close(gate.release)
			} else if res.PacksDeleted != 0 {
				t.Errorf("the prune deleted packs the running snapshot uses: %+v", res)
			}
			second := <-done
			if waitOut {
				// Before any other prune, the snapshot that committed after
				// the wait ran out checks and restores on a machine that
				// reads the repository afresh: it named again the data it
				// reused, which only the retired objects named.
				fresh := open(store, "fresh")
				checkOK(t, fresh)
				if _, err := fresh.Restore(t.Context(), second.Manifest, filepath.Join(tmp, "fresh"), RestoreOptions{}); err != nil {
					t.Fatalf("restore before the next prune: %v", err)
				}
				wimtest.CompareTrees(t, src, filepath.Join(tmp, "fresh"), wimtest.CompareOptions{})
				again := pruneOK(t, rp, PruneOptions{})
				if again.Pending != 0 {
					t.Errorf("second prune: %+v", again)
				}
			}
			checkOK(t, rp)
			out := filepath.Join(tmp, "out")
			if _, err := rp.Restore(t.Context(), second.Manifest, out, RestoreOptions{}); err != nil {
				t.Fatal(err)
			}
			wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
		})
	}
}

// TestBusyIndexAfterPrune: a local index that another process is writing
// when a command starts is used as it is, but not when a prune has since
// replaced index objects it read: then the command fails (it would
// deduplicate against data the prune may delete) and says to try again.
func TestBusyIndexAfterPrune(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the index lock")
	}
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	r, faulty := faultyRepo(t, filepath.Join(tmp, "cache"))
	must(t, os.MkdirAll(src, 0o755))
	var snaps []*Manifest
	for i := range 2 {
		writeTestFile(t, filepath.Join(src, "f.bin"), wimtest.RandomBytes(uint64(i), 1<<20))
		snaps = append(snaps, snapshotOK(t, r, src, TakeOptions{}).Manifest)
	}
	if _, err := r.Forget(t.Context(), snaps[:1], LockOptions{}); err != nil {
		t.Fatal(err)
	}
	other, err := OpenRepo(t.Context(), faulty, RepoOptions{CacheDir: filepath.Join(tmp, "other")})
	if err != nil {
		t.Fatal(err)
	}
	pruneOK(t, other, PruneOptions{})

	// Another process holds r's index for writing a little longer than
	// Sync waits for it (writeWait), then lets go.
	held, err := index.Open(r.IndexPath(), r.Config().ID, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(writeWait + time.Second)
		_ = held.Close()
	}()
	_, err = r.Snapshot(t.Context(), src, TakeOptions{Host: "testhost"})
	if !errors.Is(err, index.ErrBusy) || !strings.Contains(err.Error(), "out of date") {
		t.Fatalf("snapshot with a busy, pruned-over index: %v", err)
	}
	snapshotOK(t, r, src, TakeOptions{}) // once it is free, Sync rebuilds it
	checkOK(t, r)
}

// TestPruneKeepsIdenticalIndex: when the new index is byte for byte an old
// index object (a repository pruned before, to which only forgotten data
// was added), prune keeps it: it has the same key as the object it
// replaces, which must not be deleted as replaced.
func TestPruneKeepsIdenticalIndex(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	r, _ := faultyRepo(t, filepath.Join(tmp, "cache"))
	must(t, os.MkdirAll(src, 0o755))
	var snaps []*Manifest
	for i := range 3 {
		writeTestFile(t, filepath.Join(src, "f.bin"), wimtest.RandomBytes(uint64(10+i), 1<<20))
		if i == 2 {
			must(t, os.Remove(filepath.Join(src, "f.bin"))) // the kept snapshot lacks it
		}
		snaps = append(snaps, snapshotOK(t, r, src, TakeOptions{}).Manifest)
		if i == 0 {
			continue
		}
		// Forget the previous snapshot and prune: the second prune's new
		// index is the first one's, the kept snapshot's data being the same.
		if _, err := r.Forget(t.Context(), snaps[i-1:i], LockOptions{}); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			pruneOK(t, r, PruneOptions{})
		}
	}
	pruneOK(t, r, PruneOptions{})
	checkOK(t, r)
}

// TestPruneDeltaRecipes: a file changed in a chunk between snapshots is
// stored as a chain of delta recipes. Forgetting the first snapshot, then
// the second, prune keeps each later recipe (written whole once its base
// is gone, still a delta while its base is kept) and the snapshots left
// check and restore.
func TestPruneDeltaRecipes(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	must(t, os.MkdirAll(src, 0o755))
	r := testRepo(t, wim.CompressXPRESS)
	big := wimtest.RandomBytes(7, 2<<20)
	var snaps []*Manifest
	var hashes []index.SHA1
	for i := range 3 {
		copy(big[i<<19:], fmt.Sprint("version ", i))
		writeTestFile(t, filepath.Join(src, "big.bin"), big)
		snaps = append(snaps, snapshotOK(t, r, src, TakeOptions{}).Manifest)
		hashes = append(hashes, index.SHA1(sha1.Sum(big)))
	}
	if got := indexRecipes(t, r); !got[hashes[1]].delta || !got[hashes[2]].delta {
		t.Fatalf("the changed versions are not stored as deltas")
	}
	for i := range 2 {
		if _, err := r.Forget(t.Context(), snaps[i:i+1], LockOptions{}); err != nil {
			t.Fatal(err)
		}
		pruneOK(t, r, PruneOptions{MaxUnused: 1e-9}) // repack to the last unused byte
		got := indexRecipes(t, r)
		if _, ok := got[hashes[i]]; ok {
			t.Errorf("after forgetting snapshot %d, its version is still in the index", i)
		}
		if s := got[hashes[i+1]]; s.delta || len(s.chunks) != 64 {
			t.Errorf("after forgetting snapshot %d, the next version's recipe: delta %v, %d chunks", i, s.delta, len(s.chunks))
		}
		if i == 0 && !got[hashes[2]].delta {
			t.Error("the last version's recipe is no longer a delta of the kept one")
		}
		checkOK(t, r)
		out := filepath.Join(tmp, fmt.Sprint("out-", i))
		if _, err := r.Restore(t.Context(), snaps[2], out, RestoreOptions{}); err != nil {
			t.Fatal(err)
		}
		wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
	}
}

// TestPruneDeltaMemory: so does prune, which retires the unused chain
// (as stored, deltas and all) with a forgotten snapshot's data.
func TestPruneDeltaMemory(t *testing.T) {
	const n, deltas = 32768, 200
	r := newMemRepo(t)
	putDeltaChain(t, r, n, deltas)
	src := filepath.Join(t.TempDir(), "src")
	writeFiles(t, src, map[string]string{"a.txt": "forgotten"})
	m := snapshotOK(t, r, src, TakeOptions{}).Manifest
	if _, err := r.Forget(t.Context(), []*Manifest{m}, LockOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Sync(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	var res PruneResult
	peak := heapPeak(func() { res = pruneOK(t, r, PruneOptions{}) })
	t.Logf("prune took %d MiB of heap", peak>>20)
	if peak > 64<<20 { // 200 MiB when every recipe was expanded
		t.Errorf("prune took %d MiB of heap", peak>>20)
	}
	if res.PacksDeleted != 1 {
		t.Errorf("prune deleted %d packs, want the forgotten snapshot's", res.PacksDeleted)
	}
	ids, err := listIDs(t.Context(), r.store, indexPrefix)
	if err != nil || len(ids) != 0 {
		t.Errorf("%d index objects left, %v", len(ids), err) // nothing is used
	}
	checkOK(t, r)
}

// TestRecipeAlternatives: a stream with two recipes, one that resolves
// and a delta whose base no object describes (a second delta, or beside a
// whole recipe), as a prune stopped part way leaves them. Whatever order
// the index objects are read in, check counts the bad recipe, which
// nothing needs, and finds no problem, prune and repair find nothing lost,
// and the snapshot restores.
func TestRecipeAlternatives(t *testing.T) {
	for _, twoDeltas := range []bool{true, false} {
		t.Run(fmt.Sprintf("twoDeltas=%v", twoDeltas), func(t *testing.T) {
			tmp := t.TempDir()
			src := filepath.Join(tmp, "src")
			must(t, os.MkdirAll(src, 0o755))
			r := testRepo(t, wim.CompressXPRESS)
			big := wimtest.RandomBytes(7, 2<<20)
			versions := 1
			if twoDeltas {
				versions = 2 // the second is a delta of the first
			}
			var m *Manifest
			for i := range versions {
				copy(big[i<<19:], fmt.Sprint("version ", i))
				writeTestFile(t, filepath.Join(src, "big.bin"), big)
				m = snapshotOK(t, r, src, TakeOptions{}).Manifest
			}
			bad := indexStream{hash: index.SHA1(sha1.Sum(big)), size: int64(len(big)), delta: true,
				base: index.SHA1{0xee}, patches: []patch{{pos: 0, id: index.ID{1}}}}
			if _, err := r.putIndexObject(t.Context(), indexPrefix, &indexObject{streams: []indexStream{bad}}); err != nil {
				t.Fatal(err)
			}
			for range 8 { // listing order varies from run to run
				res, err := r.Check(t.Context(), CheckOptions{})
				if err != nil || len(res.Problems) != 0 || res.UnusedBroken != 1 {
					t.Fatalf("check: %q, %d recipes nothing needs, %v", res.Problems, res.UnusedBroken, err)
				}
				if _, err := r.Prune(t.Context(), PruneOptions{DryRun: true}); err != nil {
					t.Fatalf("prune: %v", err)
				}
				if rep, err := r.Repair(t.Context(), RepairOptions{DryRun: true}); err != nil || len(rep.Snapshots) != 0 {
					t.Fatalf("repair: %+v, %v", rep, err)
				}
			}
			out := filepath.Join(tmp, "out")
			if _, err := r.Restore(t.Context(), m, out, RestoreOptions{}); err != nil {
				t.Fatal(err)
			}
			wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
		})
	}
}

// TestSnapshotLockRemovedBeforeCommit: a snapshot whose lock another
// process removed while it ran (unlock --remove-all, after which a prune
// waits for nobody and may delete the data it deduplicated against)
// commits nothing: it checks its lock just before the manifest rather than
// trusting it until its next refresh, minutes later.
func TestSnapshotLockRemovedBeforeCommit(t *testing.T) {
	tmp := t.TempDir()
	store := remote.NewMemory()
	if _, err := InitRepo(t.Context(), store, wim.CompressXPRESS); err != nil {
		t.Fatal(err)
	}
	gate := &gateStore{Store: store, prefix: packPrefix, reached: make(chan struct{}), release: make(chan struct{})}
	r, err := OpenRepo(t.Context(), gate, RepoOptions{CacheDir: filepath.Join(tmp, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(tmp, "src")
	must(t, os.MkdirAll(src, 0o755))
	writeTestFile(t, filepath.Join(src, "data.bin"), wimtest.RandomBytes(3, 1<<20))
	done := make(chan error)
	go func() {
		_, err := r.Snapshot(t.Context(), src, TakeOptions{Host: "testhost"})
		done <- err
	}()
	<-gate.reached
	var locks []string
	must(t, store.List(t.Context(), lockPrefix, func(i remote.Info) error {
		locks = append(locks, i.Key)
		return nil
	}))
	for _, k := range locks {
		must(t, store.Delete(t.Context(), k))
	}
	close(gate.release)
	if err := <-done; !errors.Is(err, ErrLockLost) {
		t.Fatalf("snapshot after its lock was removed: %v, want ErrLockLost", err)
	}
	if list, err := r.Snapshots(t.Context()); err != nil || len(list) != 0 {
		t.Errorf("snapshots after the failed one: %d, %v; want none", len(list), err)
	}
}

// forgetOnReadStore deletes the object under victim when it is first
// read, as a forget running beside the reader would, and then reads it
// (not found).
type forgetOnReadStore struct {
	remote.Store
	mu     sync.Mutex
	victim string
}

func (s *forgetOnReadStore) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	s.mu.Lock()
	hit := key == s.victim
	if hit {
		s.victim = ""
	}
	s.mu.Unlock()
	if hit {
		if err := s.Delete(ctx, key); err != nil {
			return nil, err
		}
	}
	return s.Store.Get(ctx, key, off, length)
}

// TestPruneBesideForget: a snapshot forgotten after prune listed the
// manifests and before it read them is no longer in use, not damage:
// prune used to refuse, with "run check and repair", and the agent's
// prune slot failed whenever a job's forget ran beside it.
func TestPruneBesideForget(t *testing.T) {
	tmp := t.TempDir()
	store := &forgetOnReadStore{Store: remote.NewMemory()}
	if _, err := InitRepo(t.Context(), store, wim.CompressXPRESS); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: filepath.Join(tmp, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(tmp, "src")
	writeFiles(t, src, map[string]string{"kept": "kept", "gone": "only in the first"})
	first := snapshotOK(t, r, src, TakeOptions{}).Manifest
	must(t, os.Remove(filepath.Join(src, "gone")))
	kept := snapshotOK(t, r, src, TakeOptions{}).Manifest
	id, _ := parseID(first.ID)
	store.mu.Lock()
	store.victim = snapKey(id)
	store.mu.Unlock()
	res := pruneOK(t, r, PruneOptions{})
	if res.Snapshots != 1 || store.victim != "" {
		t.Errorf("prune read %d snapshots (victim still %q), want the one kept", res.Snapshots, store.victim)
	}
	checkOK(t, r)
	out := filepath.Join(tmp, "out")
	if _, err := r.Restore(t.Context(), kept, out, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{IgnoreRoot: true})
}

// failPackDelete is a store that fails the first deletion of a pack.
type failPackDelete struct {
	remote.Store
	failed atomic.Bool
}

func (s *failPackDelete) Delete(ctx context.Context, key string) error {
	if strings.HasPrefix(key, packPrefix) && s.failed.CompareAndSwap(false, true) {
		return remote.ErrUnavailable
	}
	return s.Store.Delete(ctx, key)
}

// TestPruneDeleteFails: a condemned pack that the store fails to delete
// is counted pending (the prune exits 3 on it), not left unsaid; the next
// prune deletes it.
func TestPruneDeleteFails(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	store := &failPackDelete{Store: remote.NewMemory()}
	r := repoOn(t, store, wim.CompressXPRESS, filepath.Join(tmp, "cache"))
	must(t, os.MkdirAll(src, 0o755))
	var snaps []*Manifest
	for i := range 2 {
		writeTestFile(t, filepath.Join(src, "big.bin"), wimtest.RandomBytes(uint64(i), 6<<20))
		snaps = append(snaps, snapshotOK(t, r, src, TakeOptions{}).Manifest)
	}
	if _, err := r.Forget(t.Context(), snaps[:1], LockOptions{}); err != nil {
		t.Fatal(err)
	}
	var warned []error
	res, err := r.Prune(t.Context(), PruneOptions{Warn: func(err error) { warned = append(warned, err) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.PacksDeleted != 0 || res.Pending != 1 || res.PendingWhy == "" || len(warned) != 1 {
		t.Errorf("a prune whose first pack deletion failed: %+v, warnings %v; want 1 pending and warned about", res, warned)
	}
	again := pruneOK(t, r, PruneOptions{})
	if again.PacksDeleted != 1 || again.Pending != 0 {
		t.Errorf("the next prune: %+v; want the pack left deleted", again)
	}
	checkOK(t, r)
}

// commitOnList is a store that runs commit once, as the first listing of
// index objects a reader makes returns: another machine's snapshot
// committing while a prune or a check reads the repository.
type commitOnList struct {
	remote.Store
	armed  atomic.Bool
	commit func()
}

func (s *commitOnList) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	err := s.Store.List(ctx, prefix, fn)
	if prefix == indexPrefix && s.armed.CompareAndSwap(true, false) {
		s.commit()
	}
	return err
}

// TestReadersBesideCommit: a prune and a check that another machine's
// snapshot commits beside, between their listings of index objects and of
// manifests, run as usual: the prune refused ("is in no index object ...
// run check and repair first") and the check took its local index for
// damaged and rebuilt it (or, with another snapshot beside the second
// run, reported the snapshot damaged), both having listed its manifest
// after the index objects; and a sync recorded such a snapshot without
// its data.
func TestReadersBesideCommit(t *testing.T) {
	tmp := t.TempDir()
	mem := remote.NewMemory()
	if _, err := InitRepo(t.Context(), mem, wim.CompressXPRESS); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(tmp, "src")
	writeFiles(t, src, map[string]string{"a.txt": "first"})
	store := &commitOnList{Store: mem}
	open := func(name string) *Repo {
		r, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: filepath.Join(tmp, "cache-"+name)})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	other, reader := open("other"), open("reader")
	snapshotOK(t, other, src, TakeOptions{})
	for i, read := range []func() error{
		func() error { _, err := reader.Prune(t.Context(), PruneOptions{}); return err },
		func() error {
			res, err := reader.Check(t.Context(), CheckOptions{})
			if err == nil && res.LocalIndexRebuilt != "" {
				err = fmt.Errorf("the local index taken for damaged: %s", res.LocalIndexRebuilt)
			}
			return err
		},
	} {
		writeTestFile(t, filepath.Join(src, "new.bin"), wimtest.RandomBytes(uint64(i), 100<<10))
		var committed *Manifest
		store.commit = func() { committed = snapshotOK(t, other, src, TakeOptions{}).Manifest }
		store.armed.Store(true)
		if err := read(); err != nil || committed == nil {
			t.Errorf("reader %d beside a snapshot's commit: %v (committed: %v)", i, err, committed != nil)
		}
		checkOK(t, open(fmt.Sprint("fresh", i)))
		if _, err := reader.Restore(t.Context(), committed, filepath.Join(tmp, fmt.Sprint("out", i)), RestoreOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A sync records no snapshot without the index objects its data is in
	// (Snapshots syncs): it recorded the manifest listed after them, and a
	// restore of it took the local index for damaged.
	writeTestFile(t, filepath.Join(src, "new.bin"), wimtest.RandomBytes(9, 100<<10))
	var committed *Manifest
	store.commit = func() { committed = snapshotOK(t, other, src, TakeOptions{}).Manifest }
	store.armed.Store(true)
	if _, err := reader.Snapshots(t.Context()); err != nil {
		t.Fatal(err)
	}
	db, err := reader.openIndex(true)
	if err != nil {
		t.Fatal(err)
	}
	defer closeIndex(db)
	recorded := false
	must(t, db.Snapshots(func(id index.ID, _ []byte) error {
		recorded = recorded || hexID(id) == committed.ID
		return nil
	}))
	if _, ok, err := db.Stream(index.SHA1(mustHash(t, committed))); recorded && (err != nil || !ok) {
		t.Errorf("the local index records snapshot %s, and lacks its image (%v)", committed.ShortID(), err)
	}
}

// TestPruneTrailersUsed: the trailer entries of used chunks count as used
// data: after a prune, a repository of small files reported about half
// its bytes unused (the trailers), which no prune could free.
func TestPruneTrailersUsed(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	files := map[string]string{}
	for i := range 2000 {
		files[fmt.Sprintf("f%04d", i)] = fmt.Sprintf("data %d\n", i)
	}
	writeFiles(t, src, files)
	r := testRepo(t, wim.CompressXPRESS)
	first := snapshotOK(t, r, src, TakeOptions{}).Manifest
	writeFiles(t, src, map[string]string{"f0000": "changed\n"})
	snapshotOK(t, r, src, TakeOptions{})
	if _, err := r.Forget(t.Context(), []*Manifest{first}, LockOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Prune(t.Context(), PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := r.Prune(t.Context(), PruneOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.UnusedBytes*10 > res.Bytes {
		t.Errorf("after a prune: %d of %d bytes unused; want the trailers counted as used", res.UnusedBytes, res.Bytes)
	}
}

// TestPruneDryRunBesideSnapshot: a dry run while a snapshot has stored its
// packs but not yet its index object counts those packs pending, with a
// warning naming the lock, not deleted (it said it would delete them all,
// where the prune itself waits for the snapshot and keeps them); packs of
// forgotten data are still counted deleted. It judges locks by the store's
// clock and removes none.
func TestPruneDryRunBesideSnapshot(t *testing.T) {
	tmp := t.TempDir()
	store, open := machines(t, tmp)
	src := filepath.Join(tmp, "src")
	must(t, os.MkdirAll(src, 0o755))
	writeTestFile(t, filepath.Join(src, "old.bin"), wimtest.RandomBytes(3, 1<<20))
	ra := open(store, "a")
	old := snapshotOK(t, ra, src, TakeOptions{}).Manifest
	if _, err := ra.Forget(t.Context(), []*Manifest{old}, LockOptions{}); err != nil {
		t.Fatal(err)
	}
	must(t, os.Remove(filepath.Join(src, "old.bin")))
	writeTestFile(t, filepath.Join(src, "new.bin"), wimtest.RandomBytes(4, 1<<20))
	gate := &gateStore{Store: store, prefix: indexPrefix, reached: make(chan struct{}), release: make(chan struct{})}
	rb := open(gate, "b")
	done := make(chan error)
	go func() {
		_, err := rb.Snapshot(t.Context(), src, TakeOptions{})
		done <- err
	}()
	<-gate.reached
	var warned []error
	// Its clock two hours ahead of the store's: the snapshot's lock is
	// fresh all the same (the dry run took it for stale, and removed it).
	rp, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: filepath.Join(tmp, "cache-p"),
		Now: func() time.Time { return time.Now().Add(2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	res, err := rp.Prune(t.Context(), PruneOptions{DryRun: true, Warn: func(err error) { warned = append(warned, err) }})
	close(gate.release)
	if serr := <-done; serr != nil {
		t.Fatal(serr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.PacksDeleted == 0 || res.Pending == 0 || !strings.Contains(res.PendingWhy, "held a lock") ||
		len(warned) != 1 || !strings.Contains(warned[0].Error(), "would be left for a later prune") {
		t.Errorf("dry run beside a snapshot: %+v, warnings %v; want the forgotten packs deleted and the snapshot's pending", res, warned)
	}
	// What the dry run kept is the snapshot's: a prune now deletes only
	// what it counted deleted.
	real, err := open(store, "q").Prune(t.Context(), PruneOptions{})
	if err != nil || real.PacksDeleted != res.PacksDeleted {
		t.Errorf("prune after the snapshot: %+v, %v; the dry run counted %d deleted", real, err, res.PacksDeleted)
	}
	checkOK(t, open(store, "c"))
}

// TestPruneDryRunSnapshotCommitsMeanwhile: a snapshot that holds its lock
// when a dry run begins, and commits and lets it go after the dry run read
// the index, has its packs counted pending, not deleted: the dry run asked
// for locks only at its end, found none, and said it would delete them.
func TestPruneDryRunSnapshotCommitsMeanwhile(t *testing.T) {
	tmp := t.TempDir()
	store, open := machines(t, tmp)
	src := filepath.Join(tmp, "src")
	must(t, os.MkdirAll(src, 0o755))
	writeTestFile(t, filepath.Join(src, "new.bin"), wimtest.RandomBytes(5, 1<<20))
	gate := &gateStore{Store: store, prefix: indexPrefix, reached: make(chan struct{}), release: make(chan struct{})}
	rb := open(gate, "b")
	done := make(chan error, 1)
	go func() {
		_, err := rb.Snapshot(t.Context(), src, TakeOptions{})
		done <- err
	}()
	<-gate.reached
	var snapErr error
	// The dry run lists retired objects after the index: the snapshot
	// commits and ends then.
	hook := &listHookStore{Store: store, prefix: retiredPrefix, hook: func() {
		close(gate.release)
		snapErr = <-done
	}}
	var warned []error
	res, err := open(hook, "p").Prune(t.Context(), PruneOptions{DryRun: true, Warn: func(err error) { warned = append(warned, err) }})
	if err != nil || snapErr != nil {
		t.Fatalf("dry run: %v; snapshot: %v", err, snapErr)
	}
	if res.PacksDeleted != 0 || res.Pending == 0 || len(warned) != 1 {
		t.Errorf("dry run beside a snapshot that committed meanwhile: %+v, warnings %v; want its packs pending", res, warned)
	}
	checkOK(t, open(store, "c"))
}
