//go:build unix

package snapshot

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
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
