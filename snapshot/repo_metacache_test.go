//go:build unix

package snapshot

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/remote/remotetest"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestMetaCache: an incremental snapshot reads its parent's image from the
// local cache, not from the store; a damaged or missing cache file is a
// miss that fetches the stream again, and the cache keeps few files.
func TestMetaCache(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	r, faulty := faultyRepo(t, filepath.Join(tmp, "cache"))
	first := snapshotOK(t, r, src, TakeOptions{})
	cached := r.metaCache().path(mustHash(t, first.Manifest))
	if _, err := os.Stat(cached); err != nil {
		t.Fatalf("the snapshot's metadata is not cached: %v", err)
	}

	gets := faulty.Calls("get")
	snapshotOK(t, r, src, TakeOptions{})
	if n := faulty.Calls("get") - gets; n != 0 {
		t.Errorf("an unchanged re-snapshot with a cached parent made %d Gets", n)
	}

	// Damage every cached file: the next snapshot fetches its parent's
	// image and still reuses the unchanged files.
	entries, err := os.ReadDir(r.metaCache().dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.WriteFile(filepath.Join(r.metaCache().dir, e.Name()), []byte("garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	gets = faulty.Calls("get")
	third := snapshotOK(t, r, src, TakeOptions{})
	if third.Manifest.Summary.FilesRead != 0 || faulty.Calls("get") == gets {
		t.Errorf("with a damaged cache: files_read %d, Gets %d", third.Manifest.Summary.FilesRead, faulty.Calls("get")-gets)
	}

	// Many different images: the cache stays at metaCacheKeep files.
	for i := range metaCacheKeep + 3 {
		writeTestFile(t, filepath.Join(src, "new.txt"), []byte{byte(i)})
		snapshotOK(t, r, src, TakeOptions{})
	}
	if entries, err = os.ReadDir(r.metaCache().dir); err != nil || len(entries) != metaCacheKeep {
		t.Errorf("cache holds %d files (%v), want %d", len(entries), err, metaCacheKeep)
	}
}

// faultyRepo is a new in-memory repository behind a Faulty store, with
// its cache in cache.
func faultyRepo(t *testing.T, cache string) (*Repo, *remotetest.Faulty) {
	t.Helper()
	faulty := remotetest.NewFaulty(remote.NewMemory())
	if _, err := InitRepo(t.Context(), faulty, wim.CompressXPRESS); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRepo(t.Context(), faulty, RepoOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	return r, faulty
}

func mustHash(t *testing.T, m *Manifest) wim.Hash {
	t.Helper()
	h, err := m.hash()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func writeTestFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
