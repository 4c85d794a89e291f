//go:build unix

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestApplyOverTreeFullDisk: apply over an earlier tree that runs out of
// space leaves every old file whole, where it removed files before writing
// their new data, and the same apply completes once there is room; also
// when TARGET is a symlink to the tree.
func TestApplyOverTreeFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	for _, link := range []bool{false, true} {
		t.Run(fmt.Sprintf("symlink=%v", link), func(t *testing.T) { applyOverTreeFullDisk(t, link) })
	}
}

func applyOverTreeFullDisk(t *testing.T, link bool) {
	t.Helper()
	dir := t.TempDir()
	src, wimfile, target := filepath.Join(dir, "src"), filepath.Join(dir, "a.wim"), filepath.Join(dir, "target")
	const n = 8
	for i := range n {
		writeFile(t, src, fmt.Sprintf("r%d", i), randomBytes(uint64(10+i), 300<<10))
	}
	runAppOK(t, nil, "capture", src, wimfile, "--compress=none")
	mountSmall(t, "wimsnap-apply", target)
	old := []byte("the earlier tree's file\n")
	for i := range n {
		writeFile(t, target, fmt.Sprintf("r%d", i), old)
	}
	arg := target
	if link {
		arg = filepath.Join(dir, "current")
		must(t, os.Symlink(target, arg))
	}
	code, _, errb := runApp(t, nil, "apply", wimfile, arg)
	if code != exitFailure || !strings.Contains(errb, "no space left") {
		t.Fatalf("apply onto a full disk: exit %d: %s", code, errb)
	}
	for i := range n {
		name := fmt.Sprintf("r%d", i)
		got, err := os.ReadFile(filepath.Join(target, name))
		want, _ := os.ReadFile(filepath.Join(src, name))
		if err != nil || !bytes.Equal(got, old) && !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, %v: neither the old file nor the image's", name, len(got), err)
		}
	}
	must(t, unix.Mount("wimsnap-apply", target, "tmpfs", unix.MS_REMOUNT, "size=16m"))
	runAppOK(t, nil, "apply", wimfile, arg)
	wantImageFiles(t, src, target, n, "the second apply")
}

// TestExtractOverFilesFullDisk extracts eight 300 KiB files of an image
// onto files of those names in a 1 MiB tmpfs: the disk fills, and every
// name still holds either its old contents or the image's, none is lost
// or cut short, and no temporary file is left; with room, the same
// extract replaces them all.
func TestExtractOverFilesFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	src, wimfile, target, files := fullExtract(t, "wimsnap-extract", 20)
	args := append([]string{"extract", wimfile, "1", "--dest-dir=" + target}, files...)
	code, _, errb := runApp(t, nil, args...)
	if code != exitFailure || !strings.Contains(errb, "no space left") {
		t.Fatalf("extract onto a full disk: exit %d: %s", code, errb)
	}
	wantOldOrNew(t, target, src)
	must(t, unix.Mount("wimsnap-extract", target, "tmpfs", unix.MS_REMOUNT, "size=16m"))
	runAppOK(t, nil, args...)
	wantImageFiles(t, src, target, fullExtractFiles, "the second extract")
}

// TestApplyOverTreeKeepsXattrs: apply over an earlier tree leaves the
// xattrs a directory there has and the image lacks, as it did before it
// replaced files in place (restore --delete removes them).
func TestApplyOverTreeKeepsXattrs(t *testing.T) {
	dir := t.TempDir()
	src, wimfile, target := filepath.Join(dir, "src"), filepath.Join(dir, "a.wim"), filepath.Join(dir, "target")
	writeFile(t, src, "d/f", []byte("image"))
	runAppOK(t, nil, "capture", src, wimfile)
	writeFile(t, target, "d/f", []byte("earlier"))
	if err := unix.Setxattr(filepath.Join(target, "d"), "user.mine", []byte("kept"), 0); err != nil {
		t.Skipf("no user xattrs here: %v", err)
	}
	runAppOK(t, nil, "apply", wimfile, target)
	buf := make([]byte, 16)
	if n, err := unix.Getxattr(filepath.Join(target, "d"), "user.mine", buf); err != nil || string(buf[:n]) != "kept" {
		t.Errorf("d's xattr user.mine after apply: %q, %v", buf[:max(n, 0)], err)
	}
	if b, _ := os.ReadFile(filepath.Join(target, "d/f")); string(b) != "image" {
		t.Errorf("d/f after apply: %q", b)
	}
}

// TestExtractKeepsTargetTimes: extracting a directory and then a file
// that exists in the destination leaves the destination directory's own
// times and mode to the file system (its mtime is that of the names
// created in it); they were set to the extracted directory's.
func TestExtractKeepsTargetTimes(t *testing.T) {
	dir := t.TempDir()
	src, wimfile, target := filepath.Join(dir, "src"), filepath.Join(dir, "a.wim"), filepath.Join(dir, "target")
	writeFile(t, filepath.Join(src, "d"), "x", []byte("inside\n"))
	writeFile(t, src, "f", []byte("new\n"))
	must(t, os.Chmod(filepath.Join(src, "d"), 0o555))
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	must(t, os.Chtimes(filepath.Join(src, "d"), old, old))
	runAppOK(t, nil, "capture", src, wimfile)
	writeFile(t, target, "f", []byte("old\n"))
	mine := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	must(t, os.Chtimes(target, mine, mine))
	runAppOK(t, nil, "extract", wimfile, "1", "/d", "/f", "--dest-dir="+target)
	fi, err := os.Stat(target)
	must(t, err)
	if fi.ModTime().Before(mine) || fi.Mode().Perm() != 0o755 {
		t.Errorf("destination after extract: mtime %v mode %v, want after %v (names were added) and 0755 as before", fi.ModTime().UTC(), fi.Mode().Perm(), mine)
	}
	if got, _ := os.ReadFile(filepath.Join(target, "f")); string(got) != "new\n" {
		t.Errorf("f = %q, want the image's", got)
	}
}

// TestExtractLinkedNamesAfterFailure: when the first name of a hard-linked
// file cannot be replaced (its data in the WIM is damaged), its other
// names are not linked to the old file that stayed: each keeps its own
// contents.
func TestExtractLinkedNamesAfterFailure(t *testing.T) {
	dir := t.TempDir()
	src, wimfile, target := filepath.Join(dir, "src"), filepath.Join(dir, "a.wim"), filepath.Join(dir, "target")
	marker := []byte("the linked file's contents, a marker to find in the WIM\n")
	writeFile(t, src, "a", marker)
	must(t, os.Link(filepath.Join(src, "a"), filepath.Join(src, "b")))
	runAppOK(t, nil, "capture", src, wimfile, "--compress=none")
	b, err := os.ReadFile(wimfile)
	must(t, err)
	i := bytes.Index(b, marker)
	if i < 0 {
		t.Fatal("the file's contents are not in the uncompressed WIM")
	}
	b[i] ^= 0x20
	must(t, os.WriteFile(wimfile, b, 0o644))
	writeFile(t, target, "a", []byte("old a\n"))
	writeFile(t, target, "b", []byte("old b\n"))
	code, _, errb := runApp(t, nil, "extract", wimfile, "1", "/a", "/b", "--dest-dir="+target)
	if code == exitOK {
		t.Fatalf("extract of a damaged stream: exit 0: %s", errb)
	}
	for name, want := range map[string]string{"a": "old a\n", "b": "old b\n"} {
		if got, _ := os.ReadFile(filepath.Join(target, name)); string(got) != want {
			t.Errorf("%s = %q, want %q kept", name, got, want)
		}
	}
	var sa, sb unix.Stat_t
	must(t, unix.Stat(filepath.Join(target, "a"), &sa))
	must(t, unix.Stat(filepath.Join(target, "b"), &sb))
	if sa.Ino == sb.Ino {
		t.Error("a and b were linked to one another after a's replacement failed")
	}
}

// TestExtractSweepsLeftovers: extract onto an existing file removes the
// temporary files a killed run left beside it, and nothing else.
func TestExtractSweepsLeftovers(t *testing.T) {
	dir := t.TempDir()
	src, wimfile, target := filepath.Join(dir, "src"), filepath.Join(dir, "a.wim"), filepath.Join(dir, "target")
	writeFile(t, src, "f", []byte("new\n"))
	runAppOK(t, nil, "capture", src, wimfile)
	writeFile(t, target, "f", []byte("old\n"))
	leftover, mine := ".wimsnap-0123456789ab-1.tmp", ".wimsnap-not-a-temp.tmp"
	writeFile(t, target, leftover, []byte("half of a killed run's file"))
	writeFile(t, target, mine, []byte("the user's"))
	runAppOK(t, nil, "extract", wimfile, "1", "/f", "--dest-dir="+target)
	if _, err := os.Lstat(filepath.Join(target, leftover)); !os.IsNotExist(err) {
		t.Errorf("the leftover %s is still there (%v)", leftover, err)
	}
	if _, err := os.Lstat(filepath.Join(target, mine)); err != nil {
		t.Errorf("a file that only looks like a leftover was removed: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(target, "f")); string(got) != "new\n" {
		t.Errorf("f = %q, want the image's", got)
	}
}

// mountSmall mounts a tmpfs of 1 MiB named name on target, a new
// directory, for the test's length.
func mountSmall(t *testing.T, name, target string) {
	t.Helper()
	must(t, os.Mkdir(target, 0o755))
	if err := unix.Mount(name, target, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(target, unix.MNT_DETACH) })
}

// wantImageFiles checks that the files r0 to r(n-1) in target hold what
// the same names in src do, after what.
func wantImageFiles(t *testing.T, src, target string, n int, after string) {
	t.Helper()
	for i := range n {
		name := fmt.Sprintf("r%d", i)
		got, _ := os.ReadFile(filepath.Join(target, name))
		want, _ := os.ReadFile(filepath.Join(src, name))
		if !bytes.Equal(got, want) {
			t.Errorf("%s after %s: not the image's contents", name, after)
		}
	}
}

// fullExtractFiles is how many files fullExtract makes.
const fullExtractFiles = 8

// fullExtract sets up an extract onto a full disk: fullExtractFiles files
// r0, r1... of 300 KiB (random, from seed) in a source tree captured into a
// WIM without compression, and a small tmpfs called name as the target,
// already holding a file oldContents under each of their names. It returns
// the tree, the WIM, the target and the files' paths in the image.
func fullExtract(t *testing.T, name string, seed uint64) (src, wimfile, target string, files []string) {
	t.Helper()
	dir := t.TempDir()
	src, wimfile, target = filepath.Join(dir, "src"), filepath.Join(dir, "a.wim"), filepath.Join(dir, "target")
	for i := range fullExtractFiles {
		writeFile(t, src, fmt.Sprintf("r%d", i), randomBytes(seed+uint64(i), 300<<10))
		files = append(files, fmt.Sprintf("/r%d", i))
	}
	runAppOK(t, nil, "capture", src, wimfile, "--compress=none")
	mountSmall(t, name, target)
	for i := range fullExtractFiles {
		writeFile(t, target, fmt.Sprintf("r%d", i), oldContents)
	}
	return src, wimfile, target, files
}

// oldContents is what fullExtract puts in the target before the extract.
var oldContents = []byte("the file that was there\n")

// wantOldOrNew checks, after an extract of fullExtract's files of src over
// target ran out of space, that each name holds either oldContents or the
// image's, that some kept the old (the disk did fill), and that no
// temporary file is left.
func wantOldOrNew(t *testing.T, target, src string) {
	t.Helper()
	kept := 0
	for i := range fullExtractFiles {
		name := fmt.Sprintf("r%d", i)
		got, err := os.ReadFile(filepath.Join(target, name))
		want, _ := os.ReadFile(filepath.Join(src, name))
		switch {
		case err == nil && bytes.Equal(got, oldContents):
			kept++
		case err != nil || !bytes.Equal(got, want):
			t.Errorf("%s: %d bytes, %v: neither the old file nor the image's", name, len(got), err)
		}
	}
	if kept == 0 {
		t.Error("every file was replaced: the disk did not fill")
	}
	if ents, _ := os.ReadDir(target); len(ents) != fullExtractFiles {
		t.Errorf("%d names in the target after the failed extract, want %d (no temporary files)", len(ents), fullExtractFiles)
	}
}

// TestLeftoverNameInImage: a file of the image named as a killed run's
// temporary file would be is the image's: extract writes it and keeps it
// when it then sweeps the directory, and a restore that excludes it, or
// selects other paths, leaves it in place. Each used to delete it.
func TestLeftoverNameInImage(t *testing.T) {
	dir := t.TempDir()
	src, wimfile := filepath.Join(dir, "src"), filepath.Join(dir, "a.wim")
	name := ".wimsnap-0123456789ab-1.tmp"
	writeFile(t, src, name, []byte("the image's\n"))
	writeFile(t, src, "f", []byte("new\n"))
	runAppOK(t, nil, "capture", src, wimfile)
	ext := filepath.Join(dir, "ext")
	writeFile(t, ext, "f", []byte("old\n")) // replaced, so the directory is swept
	runAppOK(t, nil, "extract", wimfile, "1", "/", "--dest-dir="+ext)
	if got, err := os.ReadFile(filepath.Join(ext, name)); string(got) != "the image's\n" {
		t.Errorf("extract: %s = %q (%v), want the image's", name, got, err)
	}
	env := map[string]string{envCacheDir: filepath.Join(dir, "cache"), envRepository: filepath.Join(dir, "repo")}
	runAppOK(t, env, "init")
	runAppOK(t, env, "snapshot", src)
	out := filepath.Join(dir, "out")
	runAppOK(t, env, "restore", "latest", "--target", out)
	for _, sel := range []string{"--exclude=/" + name, "--include=/f"} {
		writeFile(t, out, "f", []byte("changed\n"))
		runAppOK(t, env, "restore", "latest", "--target", out, sel)
		if got, err := os.ReadFile(filepath.Join(out, name)); string(got) != "the image's\n" {
			t.Errorf("restore %s: %s = %q (%v), want it left in place", sel, name, got, err)
		}
	}
}

// TestAppendUpdateOfTimesBefore1601: append --update-of reads again a file
// whose modification time a WIM cannot hold (tmpfs keeps 1500 and 1600,
// both stored as 1601): it took a rewritten file of the same size for
// unchanged and stored the old contents. It needs to mount a tmpfs (root).
func TestAppendUpdateOfTimesBefore1601(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	mountSmall(t, "wimsnap-old-times", src)
	f := filepath.Join(src, "f")
	setOld := func(data string, year int) {
		t.Helper()
		must(t, os.WriteFile(f, []byte(data), 0o644))
		ts := []unix.Timespec{{Sec: 0}, {Sec: time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).Unix()}}
		must(t, unix.UtimesNano(f, ts))
	}
	setOld("AAAA", 1600)
	wimfile := filepath.Join(dir, "x.wim")
	runAppOK(t, nil, "capture", src, wimfile)
	setOld("BBBB", 1500)
	runAppOK(t, nil, "append", src, wimfile, "--update-of", "1")
	out := filepath.Join(dir, "out")
	runAppOK(t, nil, "apply", wimfile, "2", out)
	if got, err := os.ReadFile(filepath.Join(out, "f")); err != nil || string(got) != "BBBB" {
		t.Errorf("image 2 holds %q (%v), want the rewritten BBBB", got, err)
	}
}

// TestExtractQuotedPath: extract takes a PATH as dir prints it, quoted
// where a name needs escapes; it took the quotes for part of the path.
func TestExtractQuotedPath(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "tab\tname", []byte("tab\n"))
	writeFile(t, src, `"q"`, []byte("quoted\n"))
	wimfile := filepath.Join(dir, "x.wim")
	runAppOK(t, nil, "capture", src, wimfile)
	listed := strings.Split(strings.TrimSpace(runAppOK(t, nil, "dir", wimfile)), "\n")
	if !slices.Contains(listed, `"/tab\tname"`) || !slices.Contains(listed, `/"q"`) {
		t.Fatalf("dir lists %q", listed)
	}
	out := filepath.Join(dir, "out")
	runAppOK(t, nil, "extract", wimfile, "1", `"/tab\tname"`, `/"q"`, "--dest-dir", out)
	for name, want := range map[string]string{"tab\tname": "tab\n", `"q"`: "quoted\n"} {
		if got, err := os.ReadFile(filepath.Join(out, name)); err != nil || string(got) != want {
			t.Errorf("%q: %q (%v), want %q", name, got, err, want)
		}
	}
}
