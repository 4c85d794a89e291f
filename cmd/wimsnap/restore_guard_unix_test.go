//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestRollbackLeavesMountsAlone: a rollback (restore --delete) of a tree
// with a file system mounted inside it, which the snapshot (on one file
// system) recorded as an empty directory, and with a directory from
// outside bind-mounted into it after the snapshot, deletes nothing in
// either: the data there is not the tree's. It used to empty both and
// report success. A file bind-mounted into the tree is left alone too
// (the dry run counted it deleted; the restore's unlink failed, EBUSY).
// The dry run counts the same as the restore.
func TestRollbackLeavesMountsAlone(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	dir := t.TempDir()
	tree, outside := filepath.Join(dir, "tree"), filepath.Join(dir, "outside")
	writeFile(t, tree, "f", []byte("tree file\n"))
	must(t, os.Mkdir(filepath.Join(tree, "data"), 0o755))
	mountTmpfs(t, filepath.Join(tree, "data"))
	writeFile(t, filepath.Join(tree, "data"), "precious.txt", []byte("on another file system\n"))
	env := map[string]string{envCacheDir: filepath.Join(dir, "cache"), envRepository: filepath.Join(dir, "repo")}
	runAppOK(t, env, "init")
	runAppOK(t, env, "snapshot", tree)
	writeFile(t, outside, "same-fs.txt", []byte("outside the tree\n"))
	must(t, os.Mkdir(filepath.Join(tree, "bind"), 0o755))
	bindMount(t, outside, filepath.Join(tree, "bind"))
	writeFile(t, outside, "file.txt", []byte("a file bind-mounted into the tree\n"))
	for _, name := range []string{"bindfile", "sub/bindfile"} { // sub: a directory the snapshot lacks
		writeFile(t, tree, name, nil)
		bindMount(t, filepath.Join(outside, "file.txt"), filepath.Join(tree, name))
	}
	writeFile(t, tree, "extra", []byte("made after the snapshot\n"))

	// Without --delete nothing is deleted, and nothing is said about the
	// mount points.
	if code, _, errb := runApp(t, env, "restore", "latest", "--target", tree); code != exitOK || strings.Contains(errb, "left alone") {
		t.Errorf("restore without --delete: exit %d: %s", code, errb)
	}
	code, dry, errb := runApp(t, env, "restore", "latest", "--target", tree, "--delete", "--dry-run", "--json")
	if code != exitOK || !strings.Contains(dry, `"deleted": 1`) {
		t.Errorf("dry run: exit %d, want 1 deleted (extra only): %s%s", code, dry, errb)
	}
	code, real, errb := runApp(t, env, "restore", "latest", "--target", tree, "--delete", "--json")
	if code != exitOK || !strings.Contains(real, "which a restore does not delete into") || !strings.Contains(real, `"deleted": 1`) ||
		strings.Count(real, "does not delete into") != 4 {
		t.Errorf("rollback: exit %d, want 0, 1 deleted, with a warning about each mount point: %s%s", code, real, errb)
	}
	for _, p := range []string{filepath.Join(tree, "data", "precious.txt"), filepath.Join(outside, "same-fs.txt"), filepath.Join(tree, "bindfile")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was deleted: %v", p, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(tree, "extra")); !os.IsNotExist(err) {
		t.Errorf("extra, which the snapshot lacks, is still there (%v)", err)
	}
}

// TestRollbackKeepsRepository: a rollback of a tree that holds the
// repository and the index cache (the default layout: PATH / and the
// repository in the home directory) keeps both, though the snapshot
// leaves them out; it used to delete them and report success.
func TestRollbackKeepsRepository(t *testing.T) {
	tree := filepath.Join(t.TempDir(), "tree")
	writeFile(t, tree, "f", []byte("tree file\n"))
	env := map[string]string{envCacheDir: filepath.Join(tree, "home", ".cache", "index"),
		envRepository: filepath.Join(tree, "home", ".local", "repo")}
	for _, args := range [][]string{{"init"}, {"snapshot", tree}, {"restore", "latest", "--target", tree, "--delete"}, {"snapshots"}} {
		code, out, errb := runApp(t, env, args...)
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s%s", strings.Join(args, " "), code, out, errb)
		}
		if args[0] == "restore" && !strings.Contains(errb, "holds the repository or its local index") {
			t.Errorf("restore: no warning about what it kept: %s", errb)
		}
	}
	if _, err := os.Stat(filepath.Join(tree, "home", ".local", "repo", "config")); err != nil {
		t.Errorf("the repository is gone: %v", err)
	}
}

// TestRestoreTargetInRepository: a restore into the repository or its
// local index, or any directory below them, also through a symbolic link
// (and a ".." after one), a bind mount of one of the repository's
// directories, or not yet made, is a usage error that writes and deletes
// nothing; with --delete into packs/ it used to delete the packs and exit
// 0. A target beside the index in the cache directory is fine.
func TestRestoreTargetInRepository(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	dir := t.TempDir()
	repo, cache := filepath.Join(dir, "repo"), filepath.Join(dir, "cache")
	writeFile(t, filepath.Join(dir, "tree"), "f", []byte("tree file\n"))
	env := map[string]string{envCacheDir: cache, envRepository: repo}
	runAppOK(t, env, "init")
	runAppOK(t, env, "snapshot", filepath.Join(dir, "tree"))
	must(t, os.Symlink(filepath.Join(repo, "snapshots"), filepath.Join(dir, "link")))
	bind := filepath.Join(dir, "bind") // a bind mount of the repository's packs/
	must(t, os.Mkdir(bind, 0o755))
	bindMount(t, filepath.Join(repo, "packs"), bind)
	for _, target := range []string{repo, filepath.Join(repo, "packs"), filepath.Join(repo, "snapshots"),
		filepath.Join(repo, "new", "dir"), filepath.Join(dir, "link"), filepath.Join(dir, "link") + "/../packs",
		filepath.Join(dir, "link") + "/../new", bind, filepath.Join(bind, "new"), filepath.Join(cache, "spool", "x")} {
		for _, extra := range [][]string{nil, {"--delete"}, {"--delete", "--dry-run"}} {
			args := append([]string{"restore", "latest", "--target", target}, extra...)
			code, _, errb := runApp(t, env, args...)
			if code != exitUsage || !strings.Contains(errb, "lies inside the repository") {
				t.Errorf("%v: exit %d, want %d naming the repository: %s", args, code, exitUsage, errb)
			}
		}
	}
	if _, err := os.Lstat(filepath.Join(repo, "new")); !os.IsNotExist(err) {
		t.Errorf("a directory was made in the repository (%v)", err)
	}
	// --json's "error" is the message stderr shows: it held the package's
	// "snapshot: " prefix.
	_, out, errb := runApp(t, env, "restore", "latest", "--target", repo, "--json")
	var doc struct{ Error string }
	if err := json.Unmarshal([]byte(out), &doc); err != nil || !strings.HasPrefix(errb, "wimsnap: "+doc.Error+"\n") {
		t.Errorf("--json error %q (%v), want stderr's %q", doc.Error, err, errb)
	}
	runAppOK(t, env, "check", "--read-data")
	runAppOK(t, env, "restore", "latest", "--target", filepath.Join(dir, "out"))
	runAppOK(t, env, "restore", "latest", "--target", filepath.Join(cache, "out"))
}

// TestRollbackDeletesFirst: a rollback with --delete removes what a
// directory holds and the snapshot lacks before it writes the directory's
// files, so that the space it frees is there for them: onto a full file
// system it failed at random with "no space left on device".
func TestRollbackDeletesFirst(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	dir := t.TempDir()
	src, target := filepath.Join(dir, "src"), filepath.Join(dir, "target")
	const files = 24 // more than the workers' queue holds: the walk waits for them
	for i := range files {
		writeFile(t, src, fmt.Sprintf("f%d", i), wimtest.RandomBytes(uint64(i), 30<<10))
	}
	env := map[string]string{envCacheDir: filepath.Join(dir, "cache"), envRepository: filepath.Join(dir, "repo")}
	runAppOK(t, env, "init")
	runAppOK(t, env, "snapshot", src)
	mountSmall(t, "wimsnap-full", target)
	for round := range 5 {
		runAppOK(t, env, "restore", "latest", "--target", target)
		for i := range files {
			must(t, os.Remove(filepath.Join(target, fmt.Sprintf("f%d", i))))
		}
		writeFile(t, target, "extra", wimtest.RandomBytes(9, 800<<10)) // what is free is less than the files need
		if code, out, errb := runApp(t, env, "restore", "latest", "--target", target, "--delete"); code != exitOK {
			t.Fatalf("round %d: exit %d: %s%s", round, code, out, errb)
		}
		wimtest.CompareTrees(t, src, target, wimtest.CompareOptions{})
	}
}

// TestFullRepositoryNoLock: on a repository whose disk is full, a restore
// that cannot write its lock points to --no-lock, as on read-only media,
// and with it restores. It said only "no space left on device".
func TestFullRepositoryNoLock(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	dir := t.TempDir()
	src, disk := filepath.Join(dir, "src"), filepath.Join(dir, "disk")
	writeFile(t, src, "f", []byte("tree file\n"))
	mountSmall(t, "wimsnap-full-repo", disk)
	env := map[string]string{envCacheDir: filepath.Join(dir, "cache"), envRepository: filepath.Join(disk, "repo")}
	runAppOK(t, env, "init")
	runAppOK(t, env, "snapshot", src)
	fillDisk(t, disk)
	code, _, errb := runApp(t, env, "restore", "latest", "--target", filepath.Join(dir, "out"))
	if code != exitFailure || !strings.Contains(errb, "--no-lock") {
		t.Errorf("restore: exit %d, want %d pointing to --no-lock: %s", code, exitFailure, errb)
	}
	runAppOK(t, env, "restore", "latest", "--target", filepath.Join(dir, "out"), "--no-lock")
	wimtest.CompareTrees(t, src, filepath.Join(dir, "out"), wimtest.CompareOptions{})
}

// TestUnusableCacheDisk: an index cache on a full disk, or on a file
// system out of inodes with bytes to spare, is not used: the command
// warns and works on a temporary index, as with an unwritable cache.
// Every command failed, those that only read the repository too ("no
// space left on device").
func TestUnusableCacheDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	for _, tc := range []struct {
		name, why string
		fill      func(t *testing.T, disk string)
	}{
		{"full", "full", func(t *testing.T, disk string) {
			t.Helper()
			mountSmall(t, "wimsnap-full-cache", disk)
			fillDisk(t, disk)
		}},
		{"no inodes", "out of inodes", func(t *testing.T, disk string) {
			t.Helper()
			must(t, os.Mkdir(disk, 0o755))
			must(t, unix.Mount("wimsnap-cache-inodes", disk, "tmpfs", 0, "size=16m,nr_inodes=8"))
			t.Cleanup(func() { _ = unix.Unmount(disk, unix.MNT_DETACH) })
			must(t, os.Mkdir(filepath.Join(disk, "index"), 0o755)) // there: writableDir looks at the inodes
			for i := 0; ; i++ {                                    // use the inodes up
				if err := os.WriteFile(filepath.Join(disk, fmt.Sprint(i)), nil, 0o644); err != nil {
					break
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src, disk := filepath.Join(dir, "src"), filepath.Join(dir, "disk")
			writeFile(t, src, "f", []byte("tree file\n"))
			env := map[string]string{envCacheDir: filepath.Join(dir, "cache"), envRepository: filepath.Join(dir, "repo")}
			runAppOK(t, env, "init")
			runAppOK(t, env, "snapshot", src)
			tc.fill(t, disk)
			env[envCacheDir] = filepath.Join(disk, "index")
			for _, args := range [][]string{{"snapshots"}, {"restore", "latest", "--target", filepath.Join(dir, "out")}} {
				code, out, errb := runApp(t, env, args...)
				if code != exitOK || !strings.Contains(errb, "is not usable") || !strings.Contains(errb, tc.why) {
					t.Errorf("%s: exit %d, want 0 with a warning that the cache's disk is %s: %s%s", args[0], code, tc.why, out, errb)
				}
			}
			wimtest.CompareTrees(t, src, filepath.Join(dir, "out"), wimtest.CompareOptions{})
		})
	}
}

// fillDisk fills the small file system at disk (mountSmall) with a file.
func fillDisk(t *testing.T, disk string) {
	t.Helper()
	fill, err := os.Create(filepath.Join(disk, "fill"))
	must(t, err)
	_, _ = fill.Write(make([]byte, 2<<20)) // until the disk is full
	must(t, fill.Close())
}

// TestRollbackKeepsMountRoots: a snapshot on one file system records a
// file system mounted in the tree, and a directory bind-mounted there
// from the tree's own file system, as empty directories (the bind mount's
// files were recorded: only its mount tells it apart); a rollback leaves
// the mode, owner, times and xattrs of those mount roots as they are, the
// bind mount's source outside the target included. It used to set the
// snapshot's on them, silently, the dry run saying nothing either.
func TestRollbackKeepsMountRoots(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	dir := t.TempDir()
	tree, outside := filepath.Join(dir, "tree"), filepath.Join(dir, "outside")
	writeFile(t, tree, "f", []byte("tree file\n"))
	writeFile(t, outside, "b.txt", []byte("outside the tree\n"))
	data, bind := filepath.Join(tree, "data"), filepath.Join(tree, "bind")
	must(t, os.Mkdir(data, 0o755))
	must(t, os.Mkdir(bind, 0o755))
	mountTmpfs(t, data)
	bindMount(t, outside, bind)
	env := map[string]string{envCacheDir: filepath.Join(dir, "cache"), envRepository: filepath.Join(dir, "repo")}
	runAppOK(t, env, "init")
	runAppOK(t, env, "snapshot", tree)
	if ls := runAppOK(t, env, "ls", "latest"); strings.Contains(ls, "b.txt") {
		t.Errorf("the snapshot holds the bind mount's files:\n%s", ls)
	}

	type meta struct {
		mode, uid uint32
		mtime     int64
		xattr     string
	}
	metaOf := func(p string) meta {
		var st unix.Stat_t
		must(t, unix.Lstat(p, &st))
		x := make([]byte, 64)
		n, _ := unix.Lgetxattr(p, "user.keep", x)
		return meta{st.Mode, st.Uid, st.Mtim.Nano(), string(x[:max(n, 0)])}
	}
	for _, p := range []string{data, outside} {
		must(t, os.Chmod(p, 0o700))
		must(t, os.Chown(p, 1000, 1000))
		must(t, os.Chtimes(p, time.Unix(946684800, 0), time.Unix(946684800, 0)))
		if err := unix.Lsetxattr(p, "user.keep", []byte("1"), 0); err != nil {
			t.Skipf("no user xattrs here: %v", err)
		}
	}
	want := map[string]meta{data: metaOf(data), outside: metaOf(outside)}
	// A file bind-mounted over one the snapshot has, which the rollback
	// would replace: left alone, the dry run saying so too (it predicted
	// a write; the rename failed, EBUSY).
	bindMount(t, filepath.Join(outside, "b.txt"), filepath.Join(tree, "f"))
	counts := partialRollback(t, env, tree, "which a restore does not replace")
	for p, w := range want {
		if got := metaOf(p); got != w {
			t.Errorf("after the restores, %s: %+v, want it left as %+v", p, got, w)
		}
	}
	if counts[0] != counts[1] || !strings.Contains(counts[1], "Skipped:1") {
		t.Errorf("dry run counted %s, the restore %s; want the same, one skipped", counts[0], counts[1])
	}
	if b, err := os.ReadFile(filepath.Join(outside, "b.txt")); err != nil || string(b) != "outside the tree\n" {
		t.Errorf("the bind mount's file: %q, %v", b, err)
	}

	// A directory the snapshot has with files, bind-mounted over from
	// outside the target after it: nothing is written there (the files
	// went into the directory outside), and the dry run says so too.
	writeFile(t, tree, "full/g.txt", []byte("the snapshot's\n"))
	runAppOK(t, env, "snapshot", tree)
	elsewhere := filepath.Join(dir, "elsewhere")
	must(t, os.Mkdir(elsewhere, 0o755))
	bindMount(t, elsewhere, filepath.Join(tree, "full"))
	if counts := partialRollback(t, env, tree, "which a restore does not write into"); counts[0] != counts[1] {
		t.Errorf("dry run counted %s, the restore %s; want the same", counts[0], counts[1])
	}
	if names, err := os.ReadDir(elsewhere); err != nil || len(names) != 0 {
		t.Errorf("written into the directory bind-mounted from outside the target: %v, %v", names, err)
	}

	// The root of a file system mounted outside the target, bind-mounted
	// in (a container's volume): its mountinfo root is "/", as a /boot's.
	usb := filepath.Join(dir, "usb")
	must(t, os.Mkdir(usb, 0o755))
	mountTmpfs(t, usb)
	must(t, unix.Unmount(filepath.Join(tree, "full"), unix.MNT_DETACH))
	bindMount(t, usb, filepath.Join(tree, "full"))
	if code, out, errb := runApp(t, env, "restore", "latest", "--target", tree, "--delete"); code != exitPartial {
		t.Errorf("restore over a bind-mounted file system root: exit %d: %s%s", code, out, errb)
	}
	if names, err := os.ReadDir(usb); err != nil || len(names) != 0 {
		t.Errorf("written into a file system mounted outside the target: %v, %v", names, err)
	}
}

// mountTmpfs mounts a small tmpfs at dir until the test ends (root only).
func mountTmpfs(t *testing.T, dir string) {
	t.Helper()
	if err := unix.Mount("wimsnap-guard", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
}

// bindMount bind-mounts from, a directory or a file, at to until the test
// ends (root only).
func bindMount(t *testing.T, from, to string) {
	t.Helper()
	if err := unix.Mount(from, to, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(to, unix.MNT_DETACH) })
}

// partialRollback runs a dry run of a rollback of the latest snapshot onto
// tree with --delete, then the rollback, each wanting the partial exit
// code and the warning text, and returns the counts of each.
func partialRollback(t *testing.T, env map[string]string, tree, text string) [2]string {
	t.Helper()
	var counts [2]string
	for i, extra := range []string{"--dry-run", "--json"} {
		code, out, errb := runApp(t, env, "restore", "latest", "--target", tree, "--delete", "--json", extra)
		if code != exitPartial || !strings.Contains(out, text) {
			t.Fatalf("restore %s: exit %d, want %d warning %q: %s%s", extra, code, exitPartial, text, out, errb)
		}
		var st struct{ Files, Skipped, Deleted, Unchanged int }
		must(t, json.Unmarshal([]byte(out), &st))
		counts[i] = fmt.Sprintf("%+v", st)
	}
	return counts
}
