//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRollbackFailedReplaceCounts: a rollback whose replacement of one
// changed file fails (the file is immutable, so the rename over it is
// refused) keeps that file whole, exits with the partial code, and counts
// it as skipped only: the --json files and bytes counts hold the file
// written and the one unchanged, not the one it could not replace.
func TestRollbackFailedReplaceCounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("setting the immutable flag needs root")
	}
	env := map[string]string{}
	dir := t.TempDir()
	env[envRepository], env[envCacheDir], env["HOME"] = filepath.Join(dir, "repo"), filepath.Join(dir, "cache"), filepath.Join(dir, "home")
	src, target := filepath.Join(dir, "src"), filepath.Join(dir, "target")
	for _, n := range []string{"kept.txt", "changed.txt", "locked.txt"} {
		writeFile(t, src, n, []byte("snapshot's "+n+"\n"))
	}
	runAppOK(t, env, "init")
	runAppOK(t, env, "snapshot", src)
	runAppOK(t, env, "restore", "latest", "--target", target)
	writeFile(t, target, "changed.txt", []byte("changed since\n"))
	writeFile(t, target, "locked.txt", []byte("changed and immutable\n"))
	setImmutable(t, filepath.Join(target, "locked.txt"))

	code, out, errb := runApp(t, env, "restore", "latest", "--target", target, "--delete", "--json")
	if code != exitPartial {
		t.Fatalf("rollback over an immutable file: exit %d, want %d: %s", code, exitPartial, errb)
	}
	var sum restoreSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if sum.Files != 2 || sum.Unchanged != 1 || sum.Skipped != 1 {
		t.Errorf("files %d, unchanged %d, skipped %d; want 2 files (one written, one unchanged) and 1 skipped",
			sum.Files, sum.Unchanged, sum.Skipped)
	}
	if want := int64(len("snapshot's changed.txt\n")); sum.Bytes != want {
		t.Errorf("bytes %d, want %d: those of changed.txt alone, not of locked.txt's replacement that was not renamed in", sum.Bytes, want)
	}
	if b, _ := os.ReadFile(filepath.Join(target, "locked.txt")); string(b) != "changed and immutable\n" {
		t.Errorf("locked.txt: %q, want it whole as it was", b)
	}
	if ents, _ := os.ReadDir(target); len(ents) != 3 {
		t.Errorf("%d names in the target, want 3 (no temporary file left)", len(ents))
	}
	if len(sum.Warnings) != 1 || !strings.HasSuffix(sum.Warnings[0].Path, "locked.txt") {
		t.Errorf("warnings %+v, want one about locked.txt", sum.Warnings)
	}
}

// fsImmutable is FS_IMMUTABLE_FL of linux/fs.h, which x/sys/unix lacks.
const fsImmutable = 0x10

// setImmutable sets the immutable flag of the file path, cleared again at
// cleanup; it skips the test where the file system has no such flag.
func setImmutable(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	flags, err := unix.IoctlGetInt(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err == nil {
		err = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, flags|fsImmutable)
	}
	if err != nil {
		t.Skipf("no immutable flag here: %v", err)
	}
	t.Cleanup(func() { clearImmutable(path) })
}

// clearImmutable clears the immutable flag of the file path: setImmutable's
// cleanup, and a test's own for a file that has moved since.
func clearImmutable(path string) {
	if f, err := os.Open(path); err == nil {
		if flags, err := unix.IoctlGetInt(int(f.Fd()), unix.FS_IOC_GETFLAGS); err == nil {
			_ = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, flags&^fsImmutable)
		}
		_ = f.Close()
	}
}

// TestRollbackFullDiskBytes: a rollback that runs out of space counts in
// --json "bytes" the data of the files it restored, not what it wrote of a
// file whose replacement the full disk cut short (its old contents stay).
// The large file is larger than the 1 MiB the apply copies at a time, so
// that its replacement fails after some of its data is written.
func TestRollbackFullDiskBytes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache"), "HOME": filepath.Join(dir, "home")}
	src, target := filepath.Join(dir, "src"), filepath.Join(dir, "target")
	sizes := map[string]int{"small": 100 << 10, "large": 3 << 20}
	for name, size := range sizes {
		writeFile(t, src, name, randomBytes(uint64(len(name)), size))
	}
	runAppOK(t, env, "init")
	runAppOK(t, env, "snapshot", src)
	mountSmall(t, "wimsnap-rollback", target)
	must(t, unix.Mount("wimsnap-rollback", target, "tmpfs", unix.MS_REMOUNT, "size=2m"))
	for name := range sizes {
		writeFile(t, target, name, oldContents)
	}
	code, out, errb := runApp(t, env, "restore", "latest", "--target", target, "--json")
	if code != exitFailure || !strings.Contains(errb, "no space left") {
		t.Fatalf("rollback onto a full disk: exit %d: %s", code, errb)
	}
	var sum restoreSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var restored int64
	for name, size := range sizes {
		b, _ := os.ReadFile(filepath.Join(target, name))
		switch {
		case len(b) == size:
			restored += int64(size)
		case !bytes.Equal(b, oldContents):
			t.Errorf("%s: %d bytes, neither the old file nor the snapshot's", name, len(b))
		}
	}
	if sum.Bytes != restored {
		t.Errorf("bytes %d, want %d: the data of the files restored alone", sum.Bytes, restored)
	}
}

// TestRollbackDirInWayFullDisk: where the snapshot has a file and the
// tree a directory, a rollback writes the file under a temporary name
// before it touches the directory, and swaps it in only then: with the
// disk full, the directory stays whole (it was removed first, and then
// the file could not be written: both were lost), and the next rollback,
// with room, puts the file in its place.
func TestRollbackDirInWayFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache"), "HOME": filepath.Join(dir, "home")}
	data := randomBytes(5, 600<<10)
	writeFile(t, filepath.Join(dir, "src"), "f", data)
	runAppOK(t, env, "init")
	runAppOK(t, env, "snapshot", filepath.Join(dir, "src"))
	target := filepath.Join(dir, "target")
	mountSmall(t, "wimsnap-rollback-dir", target)
	inside := []byte("in the directory in the way\n")
	writeFile(t, target, "f/inside.txt", inside)
	writeFile(t, target, "filler", randomBytes(6, 600<<10)) // excluded: it stays
	if code, _, _ := runApp(t, env, "restore", "latest", "--target", target, "--delete", "--exclude", "/filler"); code == exitOK {
		t.Fatal("rollback onto a full disk: exit 0")
	}
	if b, err := os.ReadFile(filepath.Join(target, "f", "inside.txt")); err != nil || !bytes.Equal(b, inside) {
		t.Errorf("the directory in the file's place after a rollback that could not write the file: %q, %v", b, err)
	}
	must(t, os.Remove(filepath.Join(target, "filler")))
	dry, done := dryThenRollback(t, env, target)
	if done.Deleted != 2 || countsOf(dry) != countsOf(done) {
		t.Errorf("the rollback with room: %+v, want 2 deleted (the directory and its file), as the dry run counted: %+v", done, dry)
	}
	if b, err := os.ReadFile(filepath.Join(target, "f")); err != nil || !bytes.Equal(b, data) {
		t.Errorf("f after the rollback with room: %d bytes, %v; want the snapshot's", len(b), err)
	}
	if ents, _ := os.ReadDir(target); len(ents) != 1 {
		t.Errorf("%d names in the target, want f alone (no temporary name left)", len(ents))
	}
}

// TestRollbackDirInWayOfSymlinkFullDisk: where the snapshot has a symlink
// and the tree a directory, a rollback makes the symlink under a
// temporary name before it touches the directory: with the disk full (a
// long target takes a block of tmpfs), the directory stays whole (it was
// removed first, and then the symlink could not be made: both were
// lost), and the next rollback, with room, swaps the symlink in.
func TestRollbackDirInWayOfSymlinkFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache"), "HOME": filepath.Join(dir, "home")}
	link := strings.Repeat("x/", 1000) + "t"
	must(t, os.MkdirAll(filepath.Join(dir, "src"), 0o755))
	must(t, os.Symlink(link, filepath.Join(dir, "src", "l")))
	runAppOK(t, env, "init")
	runAppOK(t, env, "snapshot", filepath.Join(dir, "src"))
	target := filepath.Join(dir, "target")
	mountSmall(t, "wimsnap-rollback-link", target)
	writeFile(t, target, "l/inside.txt", nil) // empty: deleting it frees no room

	fillUp(t, filepath.Join(target, "filler"))
	if code, _, _ := runApp(t, env, "restore", "latest", "--target", target, "--delete", "--exclude", "/filler"); code == exitOK {
		t.Fatal("rollback onto a full disk: exit 0")
	}
	if _, err := os.Stat(filepath.Join(target, "l", "inside.txt")); err != nil {
		t.Errorf("the directory in the symlink's place after a rollback that could not make it: %v", err)
	}
	must(t, os.Remove(filepath.Join(target, "filler")))
	dry, done := dryThenRollback(t, env, target)
	if done.Deleted != 2 || countsOf(dry) != countsOf(done) {
		t.Errorf("the rollback with room: %+v, want 2 deleted (the directory and its file), as the dry run counted: %+v", done, dry)
	}
	if got, err := os.Readlink(filepath.Join(target, "l")); err != nil || got != link {
		t.Errorf("l after the rollback with room: %d bytes, %v; want the snapshot's symlink", len(got), err)
	}
	if ents, _ := os.ReadDir(target); len(ents) != 1 {
		t.Errorf("%d names in the target, want l alone (no temporary name left)", len(ents))
	}
}

// fillUp writes the file path until its file system is full.
func fillUp(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				t.Fatalf("filling %s: %v", path, err)
			}
			return
		}
	}
}

// dryThenRollback runs a dry run of a rollback of the latest snapshot onto
// target with --delete, then the rollback, and returns their summaries.
func dryThenRollback(t *testing.T, env map[string]string, target string) (dry, done restoreSummary) {
	t.Helper()
	for _, run := range []struct {
		sum   *restoreSummary
		flags []string
	}{{&dry, []string{"--dry-run"}}, {&done, nil}} {
		args := append([]string{"restore", "latest", "--target", target, "--delete", "--json"}, run.flags...)
		if err := json.Unmarshal([]byte(runAppOK(t, env, args...)), run.sum); err != nil {
			t.Fatal(err)
		}
	}
	return dry, done
}

// TestRollbackDirWithImmutableFile: a rollback that would put the
// snapshot's file in place of a directory holding an immutable file
// leaves the directory where it is, with that file, deletes what else may
// go, skips the snapshot's file and says so, as its dry run predicts. It
// put the file in place and left the directory under a temporary name
// (the dry run said it would skip the file), and each later rollback
// warned of it again.
func TestRollbackDirWithImmutableFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("setting the immutable flag needs root")
	}
	dir := t.TempDir()
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache"), "HOME": filepath.Join(dir, "home")}
	src, target := filepath.Join(dir, "src"), filepath.Join(dir, "target")
	writeFile(t, src, "x", []byte("snapshot's x\n"))
	writeFile(t, src, "y", []byte("snapshot's y\n"))
	runAppOK(t, env, "init")
	runAppOK(t, env, "snapshot", src)
	runAppOK(t, env, "restore", "latest", "--target", target)
	must(t, os.Remove(filepath.Join(target, "x")))
	writeFile(t, target, "x/sub/precious", []byte("the user's\n"))
	writeFile(t, target, "x/other", []byte("deletable\n"))
	setImmutable(t, filepath.Join(target, "x/sub/precious"))
	t.Cleanup(func() { clearImmutable(filepath.Join(target, "x/sub/precious")) })
	writeFile(t, target, "y", []byte("changed y\n"))

	var sums [2]restoreSummary
	for i, flags := range [][]string{{"--dry-run"}, nil} {
		args := append([]string{"restore", "latest", "--target", target, "--delete", "--json"}, flags...)
		code, out, errb := runApp(t, env, args...)
		if code != exitPartial || !strings.Contains(out, "could not be deleted whole") {
			t.Fatalf("%v: exit %d, want %d naming the directory in the way: %s%s", flags, code, exitPartial, out, errb)
		}
		must(t, json.Unmarshal([]byte(out), &sums[i]))
		sums[i].Warnings, sums[i].WarningsTotal, sums[i].DurationSeconds, sums[i].DryRun, sums[i].Error = nil, 0, 0, false, ""
	}
	if !reflect.DeepEqual(sums[0], sums[1]) || sums[1].Skipped != 1 || sums[1].Files != 1 {
		t.Errorf("dry run %+v, rollback %+v; want the same, y written and x skipped", sums[0], sums[1])
	}
	if b, err := os.ReadFile(filepath.Join(target, "x/sub/precious")); err != nil || string(b) != "the user's\n" {
		t.Errorf("x/sub/precious: %q, %v; want the user's file where it was", b, err)
	}
	if _, err := os.Lstat(filepath.Join(target, "x/other")); !os.IsNotExist(err) {
		t.Errorf("x/other, which may go, is still there (%v)", err)
	}
	if left, _ := filepath.Glob(filepath.Join(target, ".wimsnap-*")); len(left) != 0 {
		t.Errorf("left under temporary names: %q", left)
	}
	if b, err := os.ReadFile(filepath.Join(target, "y")); err != nil || string(b) != "snapshot's y\n" {
		t.Errorf("y: %q, %v", b, err)
	}
}
