//go:build unix

package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestCheckReadsImagesAhead: check reads the images of many snapshots
// ahead of its walk, small ones several at a time and large ones alone
// (here every one counts as large), and finds them whole either way.
// Cancelled, it stops with the context's error.
func TestCheckReadsImagesAhead(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	r := testRepo(t, wim.CompressXPRESS)
	var snaps []*Manifest
	for i := range 6 {
		writeFiles(t, src, map[string]string{fmt.Sprintf("night-%d.txt", i): fmt.Sprint("night ", i)})
		snaps = append(snaps, snapshotOK(t, r, src, TakeOptions{}).Manifest)
	}
	for _, limit := range []int64{maxImageAhead, 0} {
		t.Run(fmt.Sprint("large above ", limit), func(t *testing.T) {
			defer func(old int64) { maxImageAhead = old }(maxImageAhead)
			maxImageAhead = limit
			res, err := r.Check(t.Context(), CheckOptions{})
			if err != nil || res.Snapshots != len(snaps) || len(res.Damaged) != 0 {
				t.Fatalf("check: %+v, %v", res, err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if _, err := r.Check(ctx, CheckOptions{}); !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled check: %v", err)
			}
		})
	}
}

// TestCheckUnusedBrokenRecipe: a delta recipe whose base's index object is
// gone, as a prune stopped between deleting two old index objects leaves
// it, is counted, not a problem, while no snapshot uses the stream; one a
// snapshot uses is a problem.
func TestCheckUnusedBrokenRecipe(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	r := testRepo(t, wim.CompressXPRESS)
	big := wimtest.RandomBytes(3, 8*RepoChunkSize)
	must(t, os.MkdirAll(src, 0o755))
	writeTestFile(t, filepath.Join(src, "big.bin"), big)
	first := snapshotOK(t, r, src, TakeOptions{})
	copy(big[RepoChunkSize:], "changed")
	writeTestFile(t, filepath.Join(src, "big.bin"), big)
	second := snapshotOK(t, r, src, TakeOptions{})
	objects, err := listIDs(t.Context(), r.store, indexPrefix)
	if err != nil || len(objects) != 2 {
		t.Fatalf("%d index objects, %v; want one per snapshot", len(objects), err)
	}
	// The first snapshot's object holds the base of the second's delta.
	var firstObj index.ID
	for id := range objects {
		o, err := r.readIndexObject(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(o.streams) > 0 && !o.streams[0].delta && slices.ContainsFunc(o.streams, func(s indexStream) bool { return s.size == int64(len(big)) }) {
			firstObj = id
		}
	}
	if firstObj == (index.ID{}) {
		t.Fatal("no index object holds big.bin whole")
	}
	must(t, r.store.Delete(t.Context(), objectKey(indexPrefix, firstObj)))
	res, err := r.Check(t.Context(), CheckOptions{})
	if err == nil || res.UnusedBroken != 0 {
		t.Errorf("with the delta's stream in use: %v, %+v; want problems", err, res)
	}
	if _, err := r.Forget(t.Context(), []*Manifest{first.Manifest, second.Manifest}, LockOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err = r.Check(t.Context(), CheckOptions{})
	if err != nil || res.UnusedBroken != 1 {
		t.Errorf("unused: %v, %+v; want one broken recipe counted and no problem", err, res)
	}
}

// listHookStore runs hook once, before the first listing of prefix.
type listHookStore struct {
	remote.Store
	prefix string
	hook   func()
	once   sync.Once
}

func (s *listHookStore) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	if prefix == s.prefix {
		s.once.Do(s.hook)
	}
	return s.Store.List(ctx, prefix, fn)
}

// TestCheckBesideSnapshot: a snapshot that another host commits while a
// check runs, between the check's listings, is no problem: the check lists
// manifests before index objects, so the index object that the snapshot
// stored before its manifest is read. Listed the other way round, the new
// manifest's streams were "in no index object".
func TestCheckBesideSnapshot(t *testing.T) {
	tmp := t.TempDir()
	store := remote.NewMemory()
	if _, err := InitRepo(t.Context(), store, wim.CompressXPRESS); err != nil {
		t.Fatal(err)
	}
	other, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: filepath.Join(tmp, "other")})
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(tmp, "src")
	writeFiles(t, src, map[string]string{"a": "first"})
	snapshotOK(t, other, src, TakeOptions{})
	hooked := &listHookStore{Store: store, prefix: packPrefix, hook: func() {
		writeFiles(t, src, map[string]string{"b": "committed during the check"})
		snapshotOK(t, other, src, TakeOptions{})
	}}
	r, err := OpenRepo(t.Context(), hooked, RepoOptions{CacheDir: filepath.Join(tmp, "checker")})
	if err != nil {
		t.Fatal(err)
	}
	// A first sync of a fresh cache lists packs too: let it, then hook
	// the check's listing of packs, which comes between its listings of
	// index objects and of manifests in the old order.
	if _, err := r.Sync(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	hooked.once = sync.Once{}
	res, err := r.Check(t.Context(), CheckOptions{})
	if err != nil || len(res.Problems) != 0 {
		t.Fatalf("check beside a snapshot: %v, problems %q", err, res.Problems)
	}
}

// TestCheckFailsNotSnapshot: a snapshot's image that cannot be read for a
// reason of this machine's (the disk under the spool files is full or
// unwritable) or of the store's (it stopped answering) ends the check with
// that error. Check reported such a snapshot damaged, and a check of an
// S3 repository with a small cache disk sent its user to repair.
func TestCheckFailsNotSnapshot(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	r, faulty := faultyRepo(t, filepath.Join(tmp, "cache"))
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(src, "f"), wimtest.RandomBytes(1, 100<<10))
	snapshotOK(t, r, src, TakeOptions{})
	r2, err := OpenRepo(t.Context(), faulty, RepoOptions{CacheDir: filepath.Join(tmp, "cache2")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Check(t.Context(), CheckOptions{}); err != nil {
		t.Fatal(err)
	}
	notDamage := func(what string, res CheckResult, err error) {
		t.Helper()
		if err == nil || errors.Is(err, ErrCheckFailed) || len(res.Damaged) > 0 || len(res.Problems) > 0 {
			t.Errorf("%s: check: %v, problems %q, damaged %q", what, err, res.Problems, res.Damaged)
		}
	}
	faulty.FailNext("get", 1, remote.ErrUnavailable)
	res, err := r2.Check(t.Context(), CheckOptions{})
	notDamage("store unavailable", res, err)
	file := filepath.Join(tmp, "file")
	writeTestFile(t, file, nil)
	r2.reads = &readSpool{dir: filepath.Join(file, "spool")} // ENOTDIR, as ENOSPC: the machine's
	res, err = r2.Check(t.Context(), CheckOptions{})
	notDamage("spool unwritable", res, err)
	if _, err := os.Stat("/sys/kernel"); err == nil { // Linux: mkdir in sysfs is refused, EPERM even to root
		r2.reads = &readSpool{dir: "/sys/wimsnap-test/spool"}
		res, err = r2.Check(t.Context(), CheckOptions{})
		notDamage("spool not permitted", res, err)
	}
}
