//go:build unix

package snapshot

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// TestSnapshotSymlinkReuse: an unchanged symlink keeps its parent's
// reparse data without its target being read; a retargeted one is read,
// even when the new target has the old one's length and the link its old
// mtime (as rsync -a leaves it).
func TestSnapshotSymlinkReuse(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	if err := os.MkdirAll(filepath.Join(src, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"rel":     "dir/aaaa",
		"inside":  filepath.Join(src, "dir"), // re-rooted (RP_FIX)
		"outside": "/nonexistent/target",
		"same":    "aaaa",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	r := testRepo(t, wim.CompressXPRESS)
	read := func(opts *TakeOptions) *[]string {
		var names []string
		opts.Capture.beforeOpen = func(p string) { names = append(names, filepath.Base(p)) }
		return &names
	}
	first := snapshotOK(t, r, src, TakeOptions{})

	var opts TakeOptions
	names := read(&opts)
	second := snapshotOK(t, r, src, opts)
	if len(*names) != 0 {
		t.Errorf("unchanged re-snapshot read the symlinks %v", *names)
	}
	if second.Manifest.Metadata != first.Manifest.Metadata {
		t.Errorf("unchanged re-snapshot changed the image: %v, was %v", second.Manifest.Metadata, first.Manifest.Metadata)
	}

	// Retarget "same" to a target of the same length, with its old mtime,
	// and "rel" to a longer one.
	var old unix.Stat_t
	same := filepath.Join(src, "same")
	if err := unix.Lstat(same, &old); err != nil {
		t.Fatal(err)
	}
	retarget(t, same, "bbbb")
	if err := unix.Lutimes(same, []unix.Timeval{unix.NsecToTimeval(old.Atim.Nano()), unix.NsecToTimeval(old.Mtim.Nano())}); err != nil {
		t.Fatal(err)
	}
	retarget(t, filepath.Join(src, "rel"), "dir/longer")
	opts = TakeOptions{}
	names = read(&opts)
	third := snapshotOK(t, r, src, opts)
	slices.Sort(*names)
	if got := strings.Join(*names, ","); got != "rel,same" {
		t.Errorf("after retargeting two symlinks, read %s, want rel,same", got)
	}
	out := filepath.Join(tmp, "out")
	if _, err := r.Restore(t.Context(), third.Manifest, out, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"same": "bbbb", "rel": "dir/longer", "outside": "/nonexistent/target",
		"inside": filepath.Join(out, "dir")} {
		if got, err := os.Readlink(filepath.Join(out, name)); err != nil || got != want {
			t.Errorf("restored %s -> %q (%v), want %q", name, got, err, want)
		}
	}

	// Through a symlink to the source, whose absolute targets depend on
	// where it leads, every symlink is read each time.
	via := filepath.Join(tmp, "via")
	if err := os.Symlink(src, via); err != nil {
		t.Fatal(err)
	}
	snapshotOK(t, r, via, TakeOptions{})
	opts = TakeOptions{}
	names = read(&opts)
	snapshotOK(t, r, via, opts)
	if len(*names) != len(links) {
		t.Errorf("through a symlinked root, read %v, want every symlink", *names)
	}
}

// retarget replaces the symlink at path by one to target.
func retarget(t *testing.T, path, target string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.Symlink(target, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
