//go:build unix

package snapshot

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/remote/remotetest"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestMetaCache: an incremental snapshot reads its parent's image from the
// local cache, not from the store; a damaged or missing cache file is a
// miss that fetches the stream again, and the cache keeps few files.
func TestMetaCache(t *testing.T) {
	src, r, faulty := cacheTestRepo(t)
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

// cacheTestRepo makes a test tree and a repository in a counting store,
// with its local cache in the test's directory.
func cacheTestRepo(t *testing.T) (src string, r *Repo, faulty *remotetest.Faulty) {
	t.Helper()
	tmp := t.TempDir()
	src = filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	r, faulty = faultyRepo(t, filepath.Join(tmp, "cache"))
	return src, r, faulty
}

// faultyRepo is a new in-memory repository behind a Faulty store, with
// its cache in cache.
func faultyRepo(t *testing.T, cache string) (*Repo, *remotetest.Faulty) {
	t.Helper()
	faulty := remotetest.NewFaulty(remote.NewMemory())
	return repoOn(t, faulty, wim.CompressXPRESS, cache), faulty
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

// TestMetaCacheTrim: the cache keeps the newest images within its count
// and byte budget (the newest whatever its size), and removes files of an
// older layout and stale temporary files.
func TestMetaCacheTrim(t *testing.T) {
	c := metaCache{dir: t.TempDir()}
	at := time.Now().Add(-2 * time.Hour)
	file := func(name string, size int64, age time.Duration) {
		t.Helper()
		p := filepath.Join(c.dir, name)
		writeTestFile(t, p, nil)
		must(t, os.Truncate(p, size)) // sparse: only the size counts
		must(t, os.Chtimes(p, at.Add(-age), at.Add(-age)))
	}
	file("new.img", 300, 0)
	file("mid.img", 200, time.Minute)
	file("old.img", 100, 2*time.Minute)
	file("older.img", 10, 3*time.Minute)
	file("legacy.zst", 10, 0)
	file(".tmp-stale", 10, 0)
	writeTestFile(t, filepath.Join(c.dir, ".tmp-busy"), nil) // being written now
	c.trimTo(3, 550)
	var names []string
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	// new and mid fit in 550 bytes, old does not; older would fit but
	// comes after.
	if want := []string{".tmp-busy", "mid.img", "new.img"}; !slices.Equal(names, want) {
		t.Errorf("kept %q, want %q", names, want)
	}
	c.trimTo(3, 10) // the newest stays whatever its size
	if _, err := os.Stat(filepath.Join(c.dir, "new.img")); err != nil {
		t.Errorf("the newest image was removed: %v", err)
	}
}

// TestGuardFault: reading a mapped file that was truncated meanwhile is a
// reported fault, not the end of the process.
func TestGuardFault(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	writeTestFile(t, p, make([]byte, 1<<16))
	b, release, err := readMapped(p)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	must(t, os.Truncate(p, 0))
	var sum byte
	if !guardFault(func() {
		for _, x := range b {
			sum += x
		}
	}) {
		t.Error("reading past the end of a truncated mapping did not fault")
	}
	if guardFault(func() {}) {
		t.Error("a function that reads nothing faulted")
	}
}

// TestSnapshotSameImage: a re-snapshot of an unchanged tree takes its
// parent's stored image, leaving the cached copy in place (the same file,
// touched); a cached copy without its stream sizes is written again, with
// them; a change that reads no file (a directory's mode) still makes and
// caches a new image.
func TestSnapshotSameImage(t *testing.T) {
	src, r, _ := cacheTestRepo(t)
	first := snapshotOK(t, r, src, TakeOptions{})
	cached := r.metaCache().path(mustHash(t, first.Manifest))
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(cached, old, old); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(cached)
	if err != nil {
		t.Fatal(err)
	}

	second := snapshotOK(t, r, src, TakeOptions{})
	if second.Manifest.Metadata != first.Manifest.Metadata {
		t.Errorf("unchanged tree: image %+v, want the parent's %+v", second.Manifest.Metadata, first.Manifest.Metadata)
	}
	after, err := os.Stat(cached)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || !after.ModTime().After(old) {
		t.Errorf("the cached image was rewritten or not touched (same file %v, mtime %v)",
			os.SameFile(before, after), after.ModTime())
	}

	// The copy a cache miss keeps has no sizes: the next unchanged
	// snapshot stores its image the usual way, which adds them.
	file, err := os.ReadFile(cached)
	if err != nil {
		t.Fatal(err)
	}
	img, _, ok := splitSizes(file)
	if !ok {
		t.Fatal("the cached image's sizes are damaged")
	}
	writeTestFile(t, cached, img)
	snapshotOK(t, r, src, TakeOptions{})
	if file, err = os.ReadFile(cached); err != nil {
		t.Fatal(err)
	}
	if _, sizes, ok := splitSizes(file); !ok || sizes.gen.IsZero() {
		t.Errorf("an unchanged snapshot left its parent's cached image without sizes (ok %v)", ok)
	}

	if err := os.Chmod(filepath.Join(src, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	third := snapshotOK(t, r, src, TakeOptions{})
	if third.Manifest.Summary.FilesRead != 0 || third.Manifest.Metadata == first.Manifest.Metadata {
		t.Fatalf("a directory's mode changed: files read %d, image %+v (the parent's: %+v)",
			third.Manifest.Summary.FilesRead, third.Manifest.Metadata, first.Manifest.Metadata)
	}
	if _, err := os.Stat(r.metaCache().path(mustHash(t, third.Manifest))); err != nil {
		t.Errorf("the new image is not cached: %v", err)
	}
	m, err := r.Metadata(t.Context(), third.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	if d := find(m.Root, "data"); d == nil || d.Unix == nil || d.Unix.Mode&0o777 != 0o700 {
		t.Errorf("the new image lacks the change: %+v", d)
	}
}
