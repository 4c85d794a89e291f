//go:build unix

package snapshot

import (
	"crypto/sha1"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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
	return repoOn(t, store, codec, filepath.Join(dir, "cache"))
}

// repoOn makes a repository of chunks in codec in store and opens it with
// the index cache cache.
func repoOn(t *testing.T, store remote.Store, codec wim.Compression, cache string) *Repo {
	t.Helper()
	if _, err := InitRepo(t.Context(), store, codec); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func snapshotOK(t *testing.T, r *Repo, src string, opts TakeOptions) TakeResult {
	t.Helper()
	var w warnings
	opts.Capture.Warn = w.add
	if opts.Host == "" {
		opts.Host = "testhost"
	}
	opts.Warn = func(err error) { t.Errorf("snapshot warning: %v", err) }
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
			res := snapshotOK(t, r, src, TakeOptions{})
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
// same tree have the same metadata resource, byte for byte. (A first
// capture sets the directories' access times, which relatime updates on
// the first read of a tree with old times.)
func TestSnapshotMetadataMatchesCapture(t *testing.T) {
	tmp := t.TempDir()
	src, w := filepath.Join(tmp, "src"), filepath.Join(tmp, "x.wim")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	captureWIM(t, src, w, CaptureOptions{})
	r := testRepo(t, wim.CompressXPRESS)
	res := snapshotOK(t, r, src, TakeOptions{})
	captureWIM(t, src, w, CaptureOptions{})
	rd, _ := openWIM(t, w)
	b, err := rd.RawMetadata(1)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%x", sha1.Sum(b)); got != res.Manifest.Metadata.SHA1 {
		t.Fatalf("capture's metadata %s, snapshot's %s", got, res.Manifest.Metadata.SHA1)
	}
}

// TestExport: snapshots exported as a WIM verify and apply with wimlib, and
// their chunks are copied, not recompressed.
func TestExport(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	for _, codec := range []wim.Compression{wim.CompressNone, wim.CompressXPRESS, wim.CompressLZX} {
		t.Run(codec.String(), func(t *testing.T) {
			tmp := t.TempDir()
			src := filepath.Join(tmp, "src")
			wimtest.MakeTree(t, src, wimtest.TreeOptions{})
			r := testRepo(t, codec)
			first := snapshotOK(t, r, src, TakeOptions{Image: ImageFields{Name: "base", Description: "d", Creator: "c", Version: "1.0"}})
			writeFiles(t, src, map[string]string{"new/file.txt": strings.Repeat("changed ", 5000)})
			second := snapshotOK(t, r, src, TakeOptions{Image: ImageFields{Name: "base"}})
			out := filepath.Join(tmp, "x.wim")
			st, err := r.Export(t.Context(), []*Manifest{first.Manifest, second.Manifest}, out, ExportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if st.Recompressed != 0 || st.CopiedChunks == 0 || st.Images != 2 {
				t.Errorf("export stats %+v", st)
			}
			wimtest.Wimlib(t, "verify", out)
			rd := wimtest.Open(t, out)
			if h := rd.Header(); h.Compression != codec {
				t.Errorf("export codec %v", h.Compression)
			}
			im := rd.Image(1)
			if im.Name != "base" || im.Description != "d" || im.Creator != "c" || im.Version != "1.0" {
				t.Errorf("image 1 info %+v", im)
			}
			if rd.Image(2).Name == "base" {
				t.Errorf("image 2 has image 1's name")
			}
			latest := filepath.Join(tmp, "out2")
			wimtest.Wimlib(t, "apply", out, "2", latest, "--unix-data")
			wimtest.CompareTrees(t, src, latest, wimtest.CompareOptions{})
			base := filepath.Join(tmp, "out1")
			wimtest.Wimlib(t, "apply", out, "1", base, "--unix-data")
			if _, err := os.Stat(filepath.Join(base, "new")); err == nil {
				t.Error("image 1 has a file of image 2")
			}
			wimtest.CompareTrees(t, src, base, wimtest.CompareOptions{IgnoreRoot: true, IgnorePaths: []string{"new"}})
		})
	}
}

// TestSnapshotIncremental: an unchanged re-snapshot opens no file and adds
// no chunk but the metadata's; a changed file is read again, and only its
// new chunks are stored; the snapshot after that reads nothing.
func TestSnapshotIncremental(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	big := filepath.Join(src, "big.bin")
	if err := os.WriteFile(big, wimtest.RandomBytes(1, 16<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	r := testRepo(t, wim.CompressXPRESS)
	first := snapshotOK(t, r, src, TakeOptions{})
	second := snapshotOK(t, r, src, TakeOptions{})
	s := second.Manifest.Summary
	if s.FilesRead != 0 || s.Reused == 0 || second.Manifest.Parent != first.Manifest.ID {
		t.Fatalf("unchanged re-snapshot: %+v (parent %s)", s, second.Manifest.Parent)
	}
	if s.NewRaw > second.Manifest.Metadata.Size || s.NewChunks > 1 {
		t.Errorf("unchanged re-snapshot stored %d bytes in %d chunks, metadata is %d", s.NewRaw, s.NewChunks, second.Manifest.Metadata.Size)
	}

	// Overwrite 1 MiB in the middle of the big file, keeping its size.
	f, err := os.OpenFile(big, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(wimtest.RandomBytes(2, 1<<20), 5<<20+12345); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	third := snapshotOK(t, r, src, TakeOptions{})
	s = third.Manifest.Summary
	if s.FilesRead != 1 || s.BytesRead != 16<<20 {
		t.Errorf("after one change: read %d files, %d bytes", s.FilesRead, s.BytesRead)
	}
	if s.NewRaw > 2<<20 {
		t.Errorf("a 1 MiB overwrite added %d bytes", s.NewRaw)
	}
	// The index updated the file set in place (the changed file's
	// signature, the others kept): the next snapshot reads nothing.
	if s := snapshotOK(t, r, src, TakeOptions{}).Manifest.Summary; s.FilesRead != 0 {
		t.Errorf("after the change was recorded: read %d files", s.FilesRead)
	}
	// The changed file's recipe is stored as the differences from its
	// previous version: the index object is far smaller than its 512 ids.
	before := repoBytes(t, r)
	// A rebuilt local index resolves the delta recipe; check does too.
	if st, err := r.Rebuild(t.Context(), func(err error) { t.Error(err) }); err != nil || st.Damaged != 0 {
		t.Fatalf("rebuild: %+v %v", st, err)
	}
	if _, err := r.Check(t.Context(), CheckOptions{ReadData: true}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out")
	if _, err := r.Restore(t.Context(), third.Manifest, out, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
	if grown := s.NewStored + int64(third.Manifest.Metadata.Size); repoBytes(t, r) != before || grown > 2<<20 {
		t.Errorf("repository changed by a rebuild, or the change stored %d bytes", grown)
	}
}

// TestSnapshotGiBOverwrite: a 1 MiB overwrite inside a 1 GiB file adds at
// most 2 MiB to the repository.
// TestSnapshotXattrChange: an unchanged re-snapshot takes a file's xattrs
// from its parent without reading them, which holds only because changing
// them changes the ctime: a file whose xattr changed is read again and
// gets its new value, the untouched one keeps its old.
func TestSnapshotXattrChange(t *testing.T) {
	src := t.TempDir()
	for _, n := range []string{"changed", "kept"} {
		p := filepath.Join(src, n)
		must(t, os.WriteFile(p, []byte(n), 0o644))
		if err := unix.Setxattr(p, "user.tag", []byte("one"), 0); err != nil {
			t.Skipf("xattrs: %v", err)
		}
	}
	r := testRepo(t, wim.CompressXPRESS)
	snapshotOK(t, r, src, TakeOptions{})
	time.Sleep(20 * time.Millisecond) // past the clock tick of the ctime just recorded
	must(t, unix.Setxattr(filepath.Join(src, "changed"), "user.tag", []byte("two"), 0))
	res := snapshotOK(t, r, src, TakeOptions{})
	if got := res.Manifest.Summary.FilesRead; got != 1 {
		t.Errorf("%d files read, want the one whose xattr changed", got)
	}
	m, err := r.Metadata(t.Context(), res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"changed": "two", "kept": "one"} {
		e := find(m.Root, name)
		if e == nil || len(e.Xattrs) != 1 || string(e.Xattrs[0].Value) != want {
			t.Errorf("%s: xattrs %+v, want user.tag=%s", name, e, want)
		}
	}
}

func TestSnapshotGiBOverwrite(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and snapshots a 1 GiB file twice")
	}
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(src, 0o755))
	big := filepath.Join(src, "disk.img")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 64 {
		if _, err := f.Write(wimtest.RandomBytes(uint64(i), 16<<20)); err != nil {
			t.Fatal(err)
		}
	}
	must(t, f.Close())
	r := testRepo(t, wim.CompressXPRESS)
	snapshotOK(t, r, src, TakeOptions{})
	before := repoBytes(t, r)
	f, err = os.OpenFile(big, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt(wimtest.RandomBytes(99, 1<<20), 700<<20+4321)
	must(t, err)
	must(t, f.Close())
	res := snapshotOK(t, r, src, TakeOptions{})
	grown := repoBytes(t, r) - before
	t.Logf("second snapshot %+v; repository grew by %d bytes", res.Manifest.Summary, grown)
	if res.Manifest.Summary.FilesRead != 1 || grown > 2<<20 {
		t.Errorf("a 1 MiB overwrite in 1 GiB grew the repository by %d bytes", grown)
	}
}

// repoBytes sums the sizes of the objects of a repository.
func repoBytes(t *testing.T, r *Repo) int64 {
	t.Helper()
	var n int64
	for _, prefix := range []string{packPrefix, indexPrefix, snapPrefix} {
		err := r.Store().List(t.Context(), prefix, func(i remote.Info) error { n += i.Size; return nil })
		must(t, err)
	}
	return n
}

// TestSnapshotWhileIndexHeld: a snapshot runs while another holds the
// local index open (as a long snapshot of another process does): it goes
// on with the index as it is, and warns that it could not refresh or
// update it.
func TestSnapshotWhileIndexHeld(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	r := testRepo(t, wim.CompressXPRESS)
	first := snapshotOK(t, r, src, TakeOptions{})
	held, err := r.openIndex(true)
	if err != nil {
		t.Fatal(err)
	}
	var warned []error
	res, err := r.Snapshot(t.Context(), src, TakeOptions{Host: "testhost", Warn: func(err error) { warned = append(warned, err) }})
	closeIndex(held)
	if err != nil {
		t.Fatal(err)
	}
	if len(warned) == 0 || res.Manifest.Parent != first.Manifest.ID || res.Manifest.Summary.FilesRead != 0 {
		t.Fatalf("warnings %v, parent %s, summary %+v", warned, res.Manifest.Parent, res.Manifest.Summary)
	}
	list, err := r.Snapshots(t.Context())
	if err != nil || len(list) != 2 {
		t.Fatalf("snapshots afterwards: %d, %v", len(list), err)
	}
}
