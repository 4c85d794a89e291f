package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestSpoolPutLinks: on Linux a spool file put into a local store on the
// same file system becomes the object without a copy, and the spool
// directory stays empty before and after.
func TestSpoolPutLinks(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	store, err := remote.NewLocal(filepath.Join(dir, "repo"))
	must(t, err)
	f, err := newSpool(spool)
	must(t, err)
	defer func() { _ = f.Close() }()
	data := wimtest.RandomBytes(2, 200000)
	_, err = f.Write(data)
	must(t, err)
	if left, _ := os.ReadDir(spool); len(left) != 0 {
		t.Errorf("the spool directory lists %d files, want none", len(left))
	}
	must(t, f.put(context.Background(), store, "packs/12/34"))
	ofi, err := os.Stat(filepath.Join(dir, "repo", "packs", "12", "34"))
	must(t, err)
	sfi, err := f.f.Stat()
	must(t, err)
	if !os.SameFile(ofi, sfi) {
		t.Error("the pack object is a copy of the spool file, want the file itself")
	}
	if ofi.Size() != int64(len(data)) {
		t.Errorf("object of %d bytes, want %d", ofi.Size(), len(data))
	}
}

// TestPackSpoolFull: a restore from a store read through the pack cache
// whose cache disk has room for the index but not for a pack keeps the
// packs in the temporary directory, with a warning; it failed "no space
// left on device". The export after it goes there too, without another
// warning.
func TestPackSpoolFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	dir := t.TempDir()
	t.Setenv("TMPDIR", filepath.Join(dir, "tmp"))
	must(t, os.Mkdir(filepath.Join(dir, "tmp"), 0o755))
	src, cache := filepath.Join(dir, "src"), filepath.Join(dir, "cache")
	must(t, os.Mkdir(src, 0o755))
	writeTestFile(t, filepath.Join(src, "big.bin"), wimtest.RandomBytes(3, 3<<20))
	writeTestFile(t, filepath.Join(src, "small"), []byte("small\n"))
	store := remote.NewMemory()
	r := repoOn(t, store, wim.CompressXPRESS, cache)
	res := snapshotOK(t, r, src, TakeOptions{})
	spool := filepath.Join(cache, "spool")
	must(t, os.MkdirAll(spool, 0o700))
	if err := unix.Mount("wimsnap-spool", spool, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(spool, unix.MNT_DETACH) })
	r2, warned := openWarned(t, store, cache)
	out := filepath.Join(dir, "out")
	if _, err := r2.Restore(t.Context(), res.Manifest, out, RestoreOptions{}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
	// An export (pack caches of its own) goes to the temporary directory
	// at once: the disk was tried, and warned about, again.
	if _, err := r2.Export(t.Context(), []*Manifest{res.Manifest}, filepath.Join(dir, "x.wim"), ExportOptions{}); err != nil {
		t.Fatalf("export: %v", err)
	}
	if w := *warned; len(w) != 1 || !strings.Contains(w[0].Error(), filepath.Join(dir, "tmp")) {
		t.Errorf("warnings %v, want one naming the temporary directory", w)
	}
}

// TestTempSpoolOwn: the spool in the temporary directory is this user's
// own private directory; one of that name that another user made, or
// anyone may enter, is refused (every user's fell back to one shared
// name, which the first to make it owned).
func TestTempSpoolOwn(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	mine := filepath.Join(tmp, fmt.Sprintf("wimsnap-spool-%d", os.Getuid()))
	for _, tc := range []struct {
		name    string
		prepare func()
		same    bool
	}{
		{"missing", func() {}, true},
		{"own", func() { must(t, os.Mkdir(mine, 0o700)) }, true},
		{"open to all", func() { must(t, os.Mkdir(mine, 0o700)); must(t, os.Chmod(mine, 0o777)) }, false},
		{"another user's", func() { must(t, os.Mkdir(mine, 0o700)); must(t, os.Chown(mine, 65534, 65534)) }, false},
		{"a symlink", func() { must(t, os.Symlink(t.TempDir(), mine)) }, false},
	} {
		must(t, os.RemoveAll(mine))
		tc.prepare()
		got, err := tempSpool()
		if (err == nil) != tc.same || err == nil && (got != mine || !ownPrivateDir(got)) {
			t.Errorf("%s: %q (%v); want %q: %v", tc.name, got, err, mine, tc.same)
		}
	}
}
