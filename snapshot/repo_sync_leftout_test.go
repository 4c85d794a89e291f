//go:build unix

package snapshot

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
)

// TestSyncWarnsLeftOut: a snapshot whose manifest is damaged, read by an
// index that has not cached it, is left out of the listing and of
// "latest" (an older one is restored), and the repository's Warn is told
// so once, naming it and forget, however many syncs the commands run.
func TestSyncWarnsLeftOut(t *testing.T) {
	tmp, r, old, damaged := twoSnapshots(t)
	garbage := []byte("not a manifest")
	if err := r.store.Put(t.Context(), snapPrefix+damaged.ID, bytes.NewReader(garbage), int64(len(garbage))); err != nil {
		t.Fatal(err)
	}
	fresh, warned := openWarned(t, r.store, filepath.Join(tmp, "fresh"))
	snaps, err := fresh.Snapshots(t.Context())
	if err != nil || len(snaps) != 1 || snaps[0].ID != old.ID {
		t.Fatalf("Snapshots: %d (%v), want only the older one", len(snaps), err)
	}
	latest, err := fresh.FindSnapshot(t.Context(), "latest")
	if err != nil || latest.ID != old.ID {
		t.Fatalf("latest: %v, want the older snapshot", err)
	}
	if _, err := fresh.Restore(t.Context(), latest, filepath.Join(tmp, "out"), RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if w := *warned; len(w) != 1 || !errors.Is(w[0], ErrRepoFormat) ||
		!strings.Contains(w[0].Error(), "snapshot "+damaged.ShortID()+" left out") ||
		!strings.Contains(w[0].Error(), "'wimsnap forget "+damaged.ShortID()+"'") {
		t.Errorf("warnings %q, want one naming %s and forget", w, damaged.ShortID())
	}
}

// TestSyncForgottenMeanwhile: a manifest listed and then deleted (forget
// on another machine) before the sync reads it is left out without a
// warning; it was warned about as an object not found, in every
// snapshot that raced a forget elsewhere.
func TestSyncForgottenMeanwhile(t *testing.T) {
	tmp, r, kept, gone := twoSnapshots(t)
	store := &forgetAfterList{Store: r.store, key: snapPrefix + gone.ID}
	fresh, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: filepath.Join(tmp, "fresh"),
		Warn: func(err error) { t.Errorf("warning: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	st, err := fresh.Sync(t.Context(), func(err error) { t.Errorf("sync warning: %v", err) })
	if err != nil || st.Damaged != 0 {
		t.Fatalf("sync: %+v, %v; want nothing damaged", st, err)
	}
	snaps, err := fresh.Snapshots(t.Context())
	if err != nil || len(snaps) != 1 || snaps[0].ID != kept.ID {
		t.Errorf("Snapshots: %d (%v), want the one left", len(snaps), err)
	}
}

// openWarned opens the repository in store, as another machine would,
// with its local index in cache, and returns it with the warnings it
// gives, as they come.
func openWarned(t *testing.T, store remote.Store, cache string) (*Repo, *[]error) {
	t.Helper()
	warned := new([]error)
	r, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: cache, Warn: func(err error) { *warned = append(*warned, err) }})
	if err != nil {
		t.Fatal(err)
	}
	return r, warned
}

// twoSnapshots returns a directory for the test, a repository and its two
// snapshots, the older first, of a file changed in between.
func twoSnapshots(t *testing.T) (tmp string, r *Repo, older, newer *Manifest) {
	t.Helper()
	tmp = t.TempDir()
	src := filepath.Join(tmp, "src")
	writeFiles(t, src, map[string]string{"f": "old"})
	r = testRepo(t, wim.CompressXPRESS)
	older = snapshotOK(t, r, src, TakeOptions{}).Manifest
	writeFiles(t, src, map[string]string{"f": "newer"})
	return tmp, r, older, snapshotOK(t, r, src, TakeOptions{}).Manifest
}

// forgetAfterList is a store that deletes key once it has listed it, as
// a forget elsewhere would between a sync's listing and its reading.
type forgetAfterList struct {
	remote.Store
	key string
}

func (s *forgetAfterList) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	listed := false
	err := s.Store.List(ctx, prefix, func(fi remote.Info) error {
		listed = listed || fi.Key == s.key
		return fn(fi)
	})
	if listed {
		if derr := s.Delete(ctx, s.key); derr != nil {
			return derr
		}
	}
	return err
}

// TestRebuildCountsUnindexed: with the only index object lost, a rebuild
// reads what there is and finds every manifest, so it counts, and warns
// about, the snapshot whose image no index object describes; a rebuild of
// a whole repository counts none.
func TestRebuildCountsUnindexed(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	writeFiles(t, src, map[string]string{"f": "data"})
	r := testRepo(t, wim.CompressXPRESS)
	m := snapshotOK(t, r, src, TakeOptions{}).Manifest
	st, err := r.Rebuild(t.Context(), func(err error) { t.Errorf("rebuild of a whole repository: %v", err) })
	if err != nil || st.Unindexed != 0 {
		t.Fatalf("rebuild of a whole repository: %+v, %v", st, err)
	}
	ids, err := listIDSet(t.Context(), r.store, indexPrefix)
	if err != nil || len(ids) != 1 {
		t.Fatalf("index objects %v (%v), want one", ids, err)
	}
	for id := range ids {
		if err := r.store.Delete(t.Context(), indexPrefix+hexID(id)); err != nil {
			t.Fatal(err)
		}
	}
	var warned []error
	st, err = r.Rebuild(t.Context(), func(err error) { warned = append(warned, err) })
	if err != nil || st.Unindexed != 1 || st.Snapshots != 1 {
		t.Errorf("rebuild without the index object: %+v, %v; want 1 snapshot, unindexed", st, err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0].Error(), "snapshot "+m.ShortID()+" cannot be restored") {
		t.Errorf("warnings %q, want one naming %s", warned, m.ShortID())
	}
}

// TestManifestNotAnObject: a manifest whose file became a FIFO or a
// symbolic link to a device is damage, as a garbage manifest is: left out
// of the listing with a warning, a problem for check, and prune refuses;
// nothing blocks on the FIFO or reads the device. Taken for a forgotten
// manifest, it let prune delete the data only that snapshot held.
func TestManifestNotAnObject(t *testing.T) {
	plants := map[string]func(p string) error{
		"fifo":    func(p string) error { return unix.Mkfifo(p, 0o600) },
		"devlink": func(p string) error { return os.Symlink("/dev/zero", p) },
	}
	for name, plant := range plants {
		t.Run(name, func(t *testing.T) {
			tmp, r, old, damaged := twoSnapshots(t)
			p := filepath.Join(r.store.Location(), snapPrefix+damaged.ID)
			must(t, os.Remove(p))
			must(t, plant(p))
			fresh, warned := openWarned(t, r.store, filepath.Join(tmp, "fresh"))
			snaps, err := fresh.Snapshots(t.Context())
			if err != nil || len(snaps) != 1 || snaps[0].ID != old.ID || len(*warned) != 1 || !errors.Is((*warned)[0], ErrRepoFormat) {
				t.Fatalf("Snapshots: %d (%v), warnings %q; want the older one and a warning", len(snaps), err, *warned)
			}
			if res, err := fresh.Check(t.Context(), CheckOptions{}); !errors.Is(err, ErrCheckFailed) || len(res.Problems) == 0 {
				t.Errorf("Check = %v, %d problems; want the manifest reported", err, len(res.Problems))
			}
			if _, err := fresh.Prune(t.Context(), PruneOptions{}); !errors.Is(err, ErrPruneRefused) {
				t.Errorf("Prune = %v, want it refused", err)
			}
		})
	}
}

// TestLockNotAnObject: a lock object whose file is a FIFO is an
// unreadable lock, as one of garbage is: listed, and removed by
// RemoveLocks (unlock --remove-all); it made every command that reads the
// locks fail, unlock too.
func TestLockNotAnObject(t *testing.T) {
	_, r, _, _ := twoSnapshots(t)
	key := lockPrefix + strings.Repeat("ab", 32)
	must(t, unix.Mkfifo(filepath.Join(r.store.Location(), filepath.FromSlash(key)), 0o600))
	locks, err := r.Locks(t.Context())
	if err != nil || len(locks) != 1 || locks[0].Key != key || !locks[0].Exclusive {
		t.Fatalf("Locks: %+v, %v; want the FIFO as an unreadable lock", locks, err)
	}
	if removed, err := r.RemoveLocks(t.Context(), true, 0); err != nil || len(removed) != 1 {
		t.Fatalf("RemoveLocks: %+v, %v", removed, err)
	}
	if _, err := os.Lstat(filepath.Join(r.store.Location(), filepath.FromSlash(key))); !os.IsNotExist(err) {
		t.Errorf("the FIFO is still there: %v", err)
	}
}

// TestMutexNotAnObject: a FIFO in place of locks/exclusive never goes
// stale, so the lockers it stops name the way out: unlock --remove-all,
// which removes it.
func TestMutexNotAnObject(t *testing.T) {
	_, r, _, _ := twoSnapshots(t)
	must(t, unix.Mkfifo(filepath.Join(r.store.Location(), filepath.FromSlash(exclusiveKey)), 0o600))
	for name, lock := range map[string]func(context.Context, LockOptions) (*Lock, error){
		"shared": r.LockShared, "exclusive": r.LockExclusive, "prune": r.LockPrune,
	} {
		l, err := lock(t.Context(), LockOptions{})
		if err == nil {
			must(t, l.Unlock(t.Context()))
			t.Fatalf("%s lock taken beside a FIFO mutex", name)
		}
		if !errors.Is(err, remote.ErrDamaged) || !strings.Contains(err.Error(), "unlock --remove-all") {
			t.Errorf("%s lock: %v; want the FIFO named with the way out", name, err)
		}
	}
	if removed, err := r.RemoveLocks(t.Context(), true, 0); err != nil || len(removed) != 1 {
		t.Fatalf("RemoveLocks: %+v, %v", removed, err)
	}
	l, err := r.LockExclusive(t.Context(), LockOptions{})
	if err != nil {
		t.Fatalf("exclusive lock after unlock: %v", err)
	}
	must(t, l.Unlock(t.Context()))
}

// TestPackNotAnObject: check names a pack that is a FIFO for what it is,
// where it called it truncated (its listing shows size 0).
func TestPackNotAnObject(t *testing.T) {
	_, r, _, _ := twoSnapshots(t)
	packs, err := listIDSet(t.Context(), r.store, packPrefix)
	if err != nil || len(packs) == 0 {
		t.Fatalf("packs: %v, %v", packs, err)
	}
	for id := range packs {
		p := filepath.Join(r.store.Location(), filepath.FromSlash(packKey(id)))
		must(t, os.Remove(p))
		must(t, unix.Mkfifo(p, 0o600))
		break
	}
	res, err := r.Check(t.Context(), CheckOptions{})
	if !errors.Is(err, ErrCheckFailed) {
		t.Fatalf("Check = %v, want it failed", err)
	}
	problems := strings.Join(res.Problems, "\n")
	if !strings.Contains(problems, "is not a file") || !strings.Contains(problems, "FIFO") || strings.Contains(problems, "truncated") {
		t.Errorf("problems:\n%s\nwant the pack named a FIFO, not truncated", problems)
	}
}

// TestSyncNewerIndexSchema: a local index that a newer wimsnap wrote
// (a schema above this one's) is rebuilt with the reason "newer": it said
// "corrupt", which a monitor of the --json documents took for damage.
func TestSyncNewerIndexSchema(t *testing.T) {
	r := testRepo(t, wim.CompressXPRESS)
	src := filepath.Join(t.TempDir(), "src")
	writeFiles(t, src, map[string]string{"f": "data"})
	snapshotOK(t, r, src, TakeOptions{})
	db, err := bbolt.Open(r.cache, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	must(t, db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("wimsnap-index")).Put([]byte("version"), binary.BigEndian.AppendUint32(nil, 99))
	}))
	must(t, db.Close())
	var warned []error
	st, err := r.Sync(t.Context(), func(err error) { warned = append(warned, err) })
	if err != nil || !st.Rebuilt || st.Reason != "newer" {
		t.Errorf("Sync: %+v, %v; want it rebuilt for a newer schema", st, err)
	}
	if len(warned) != 1 || !errors.Is(warned[0], index.ErrVersion) {
		t.Errorf("warnings %v, want one naming the newer schema", warned)
	}
}

// goneStore is a store whose index object gone was deleted after a
// listing: listed, it is not found when read (a prune running beside).
type goneStore struct {
	remote.Store
	gone string
}

func (g *goneStore) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if key == g.gone {
		return nil, fmt.Errorf("get %s: %w", key, remote.ErrNotFound)
	}
	return g.Store.Get(ctx, key, off, length)
}

// TestSyncObjectGoneMeanwhile: an index object listed and then deleted
// before it is read (by a prune, which wrote what it named into a new
// object first) is neither damage nor warned about: every snapshot taken
// beside a prune warned "reading index/...: object not found".
func TestSyncObjectGoneMeanwhile(t *testing.T) {
	tmp := t.TempDir()
	mem := remote.NewMemory()
	r := repoOn(t, mem, wim.CompressXPRESS, filepath.Join(tmp, "cache"))
	writeFiles(t, filepath.Join(tmp, "src"), map[string]string{"a": "a"})
	snapshotOK(t, r, filepath.Join(tmp, "src"), TakeOptions{})
	ids, err := listIDs(t.Context(), mem, indexPrefix)
	must(t, err)
	store := &goneStore{Store: mem}
	for id := range ids {
		store.gone = indexKey(id)
	}
	fresh, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: filepath.Join(tmp, "fresh")})
	must(t, err)
	var warned []error
	st, err := fresh.Sync(t.Context(), func(err error) { warned = append(warned, err) })
	if err != nil || st.Damaged != 0 || len(warned) != 0 {
		t.Errorf("sync: %v, %d damaged, warnings %v; want none", err, st.Damaged, warned)
	}
}
