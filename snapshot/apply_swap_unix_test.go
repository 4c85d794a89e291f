//go:build unix

package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMakeDirInPlaceOfEntryFullDisk: where the image has a directory and
// the target a file or a symlink, the apply makes the directory beside
// and swaps it in: when it cannot be made (a full disk, here injected),
// the old entry stays whole. It was removed first, and then lost.
func TestMakeDirInPlaceOfEntryFullDisk(t *testing.T) {
	for _, full := range []bool{true, false} {
		for _, kind := range []string{"file", "symlink"} {
			t.Run(fmt.Sprintf("%s, full %v", kind, full), func(t *testing.T) {
				dir := t.TempDir()
				old := filepath.Join(dir, "d")
				if kind == "file" {
					must(t, os.WriteFile(old, []byte("the old file\n"), 0o644))
				} else {
					must(t, os.Symlink("the old target", old))
				}
				fd, err := openDir(unix.AT_FDCWD, dir, false)
				if err != nil {
					t.Fatal(err)
				}
				defer closeFD(fd)
				a := &applier{token: "0123456789ab", target: dir, cancel: func() {}} // a full disk ends the apply
				if full {
					a.mkdir = func(dfd int, name string) error {
						if fstatat(dfd, name, new(unix.Stat_t), unix.AT_SYMLINK_NOFOLLOW) == nil {
							return unix.EEXIST
						}
						return unix.ENOSPC
					}
				}
				sub, made, ok := a.makeDir(fd, "d")
				if ok {
					closeFD(sub)
				}
				if ok == full || made != ok { // the directory swapped in is new, and empty
					t.Fatalf("makeDir onto a disk full %v: made %v, ok %v", full, made, ok)
				}
				wantOnly(t, dir, "d")
				fi, _ := os.Lstat(old)
				switch {
				case !full && (fi == nil || !fi.IsDir()):
					t.Errorf("d: %v, want a directory", fi)
				case full && kind == "file":
					if b, err := os.ReadFile(old); string(b) != "the old file\n" {
						t.Errorf("the file in the way after a failed mkdir: %q, %v", b, err)
					}
				case full:
					if l, err := os.Readlink(old); l != "the old target" {
						t.Errorf("the symlink in the way after a failed mkdir: %q, %v", l, err)
					}
				}
			})
		}
	}
}

// wantOnly checks that dir holds the names want alone (no temporary name
// left).
func wantOnly(t *testing.T, dir string, want ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if len(got) != len(want) || len(got) > 0 && got[0] != want[0] {
		t.Errorf("%s holds %q, want %q", dir, got, want)
	}
}

// TestRollbackDirWhereFile: a rollback that puts a directory where the
// target has a file or a symlink counts the entry it removes as deleted,
// and so does its dry run: both said nothing was deleted or written, and
// the rollback, its counts unchanged, did not flush the file system.
func TestRollbackDirWhereFile(t *testing.T) {
	tmp := t.TempDir()
	src, w, out := filepath.Join(tmp, "src"), filepath.Join(tmp, "x.wim"), filepath.Join(tmp, "out")
	writeFiles(t, src, map[string]string{"d/a": "a"})
	must(t, os.Mkdir(filepath.Join(src, "empty"), 0o755))
	must(t, os.Mkdir(filepath.Join(src, "link"), 0o755))
	captureWIM(t, src, w, CaptureOptions{})
	r, m := openWIM(t, w)
	applyOK(t, m, r, out, ApplyOptions{})
	must(t, os.Remove(filepath.Join(out, "empty")))
	must(t, os.WriteFile(filepath.Join(out, "empty"), []byte("precious"), 0o644))
	must(t, os.Remove(filepath.Join(out, "link")))
	must(t, os.Symlink("d", filepath.Join(out, "link")))
	defer func(s func(int) error) { syncFS = s }(syncFS)
	syncs := 0
	syncFS = func(int) error { syncs++; return nil }
	plan := applyOK(t, m, r, out, ApplyOptions{InPlace: true, Delete: true, DryRun: true})
	st := applyOK(t, m, r, out, ApplyOptions{InPlace: true, Delete: true})
	if st.Deleted != 2 || plan != st || syncs != 1 {
		t.Errorf("rollback %+v\ndry run %+v\n%d flushes; want 2 deleted, alike, one flush", st, plan, syncs)
	}
	if fi, err := os.Lstat(filepath.Join(out, "empty")); err != nil || !fi.IsDir() {
		t.Errorf("empty after the rollback: %v, %v; want a directory", fi, err)
	}
}
