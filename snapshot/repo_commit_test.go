//go:build unix

package snapshot

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

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
