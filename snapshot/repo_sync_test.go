package snapshot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
)

// TestOpenSyncedIndexRemoved: an index removed after a sync (rebuild-index
// in another process) makes openIndex fail with fs.ErrNotExist, which
// openSynced takes as the sign to sync again, and then it opens.
func TestOpenSyncedIndexRemoved(t *testing.T) {
	store := remote.NewMemory()
	if _, err := InitRepo(t.Context(), store, wim.CompressXPRESS); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: filepath.Join(t.TempDir(), "cache")})
	if err != nil {
		t.Fatal(err)
	}
	_, db, err := r.openSynced(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	closeIndex(db)
	if err := os.Remove(r.IndexPath()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.openIndex(true); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open of a removed index: %v, want fs.ErrNotExist", err)
	}
	_, db, err = r.openSynced(t.Context(), nil)
	if err != nil {
		t.Fatalf("openSynced after the index was removed: %v", err)
	}
	closeIndex(db)
}
