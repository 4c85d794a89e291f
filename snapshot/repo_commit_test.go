//go:build unix

package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// cancelAtIndex is a store that cancels a context as the first index
// object is written, and refuses writes whose context is done, as a
// remote store does.
type cancelAtIndex struct {
	remote.Store
	cancel context.CancelFunc
}

func (s *cancelAtIndex) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if strings.HasPrefix(key, indexPrefix) {
		s.cancel()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.Store.Put(ctx, key, r, size)
}

// TestSnapshotCancelledAtCommit: a snapshot cancelled once every pack is
// stored finishes its commit rather than waste its work.
func TestSnapshotCancelledAtCommit(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	mem := remote.NewMemory()
	if _, err := InitRepo(t.Context(), mem, wim.CompressXPRESS); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r, err := OpenRepo(ctx, &cancelAtIndex{Store: mem, cancel: cancel}, RepoOptions{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Snapshot(ctx, src, TakeOptions{})
	if err != nil || res.Manifest == nil {
		t.Fatalf("snapshot cancelled at its commit: %v", err)
	}
	if ctx.Err() == nil {
		t.Fatal("the store did not cancel the snapshot")
	}
	list, err := r.Snapshots(t.Context())
	if err != nil || len(list) != 1 || list[0].ID != res.Manifest.ID {
		t.Fatalf("snapshots after the commit: %v, %v", list, err)
	}
}

// slowIndex is a store whose index-object writes take delay (a large
// run's index objects over a slow link), or end with their context, and
// that cancels cancel, when set, as they start, at cancelled.
type slowIndex struct {
	remote.Store
	delay     time.Duration
	cancel    context.CancelFunc
	cancelled time.Time
}

func (s *slowIndex) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if strings.HasPrefix(key, indexPrefix) {
		if s.cancel != nil && s.cancelled.IsZero() {
			s.cancelled = time.Now()
			s.cancel()
		}
		select {
		case <-time.After(s.delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.Store.Put(ctx, key, r, size)
}

// TestSnapshotSlowCommit: the grace bounds only a cancelled commit. An
// uncancelled one whose index object takes longer than the grace commits
// (it failed with "context deadline exceeded" after every pack was
// stored, at every run); a cancelled one ends once the grace is over,
// leaving no manifest.
func TestSnapshotSlowCommit(t *testing.T) {
	defer func(g time.Duration) { commitGrace = g }(commitGrace)
	commitGrace = 50 * time.Millisecond
	src := filepath.Join(t.TempDir(), "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	for _, cancelled := range []bool{false, true} {
		mem := remote.NewMemory()
		if _, err := InitRepo(t.Context(), mem, wim.CompressXPRESS); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		store := &slowIndex{Store: mem, delay: 10 * commitGrace}
		if cancelled {
			store.cancel = cancel
		}
		r, err := OpenRepo(ctx, store, RepoOptions{CacheDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Snapshot(ctx, src, TakeOptions{})
		took := time.Since(store.cancelled) // of the commit after the cancellation
		cancel()
		list, lerr := r.Snapshots(t.Context())
		switch {
		case lerr != nil:
			t.Fatal(lerr)
		case !cancelled && (err != nil || len(list) != 1):
			t.Errorf("uncancelled, index object stored in %s against a grace of %s: %v, %d snapshots",
				store.delay, commitGrace, err, len(list))
		case cancelled && (!errors.Is(err, context.Canceled) || res.Manifest != nil || len(list) != 0 || took >= store.delay):
			t.Errorf("cancelled: %v after %s, %d snapshots; want context.Canceled within %s, none",
				err, took, len(list), store.delay)
		}
	}
}

// downAfterManifest is a store that becomes unavailable, for listings and
// writes, once a manifest is written.
type downAfterManifest struct {
	remote.Store
	down atomic.Bool
}

func (s *downAfterManifest) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if s.down.Load() {
		return fmt.Errorf("put %s: injected: %w", key, remote.ErrUnavailable)
	}
	err := s.Store.Put(ctx, key, r, size)
	if err == nil && strings.HasPrefix(key, snapPrefix) {
		s.down.Store(true)
	}
	return err
}

func (s *downAfterManifest) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	if s.down.Load() {
		return fmt.Errorf("list %s: injected: %w", prefix, remote.ErrUnavailable)
	}
	return s.Store.List(ctx, prefix, fn)
}

// TestSnapshotLookAfterManifestFails: a snapshot whose look at the index
// objects after its manifest fails is committed, and says so with a
// warning instead of dropping the error.
func TestSnapshotLookAfterManifestFails(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	mem := remote.NewMemory()
	if _, err := InitRepo(t.Context(), mem, wim.CompressXPRESS); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var warned []error
	warn := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		warned = append(warned, err)
	}
	store := &downAfterManifest{Store: mem}
	r, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: t.TempDir(), Warn: warn})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Snapshot(t.Context(), src, TakeOptions{Lock: LockOptions{None: true}})
	if err != nil || res.Manifest == nil {
		t.Fatalf("snapshot: %v", err)
	}
	if !store.down.Load() {
		t.Fatal("the store never went down")
	}
	found := false
	for _, w := range warned {
		found = found || (strings.Contains(w.Error(), "is committed, but") && errors.Is(w, remote.ErrUnavailable))
	}
	if !found {
		t.Fatalf("no warning about the failed look after the manifest; warnings: %v", warned)
	}
	store.down.Store(false)
	list, err := r.Snapshots(t.Context())
	if err != nil || len(list) != 1 || list[0].ID != res.Manifest.ID {
		t.Fatalf("snapshots after the run: %v, %v", list, err)
	}
}
