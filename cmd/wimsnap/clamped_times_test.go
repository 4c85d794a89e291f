//go:build linux

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRollbackClampedTimes: a rollback onto ext4 of files, a directory and
// a symlink whose times ext4 cannot hold (before 1901, after 2446; tmpfs
// keeps them) finds them unchanged: the kernel clamped the times the first
// restore set, and every rollback rewrote the files and fixed the rest.
// That first restore warns about each, saying what it set (it was
// silent). It needs to mount a tmpfs and an ext4 image (root).
func TestRollbackClampedTimes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	mountSmall(t, "wimsnap-clamped-times", src)
	mnt := mountExt4(t, dir)
	at := func(year int) unix.Timespec { // not through UnixNano, which ends in 2262
		d := time.Date(year, 6, 1, 12, 0, 0, 500, time.UTC)
		return unix.Timespec{Sec: d.Unix(), Nsec: int64(d.Nanosecond())}
	}
	old, future := at(1850), at(2500)
	writeFile(t, src, "d/old", []byte("old\n"))
	writeFile(t, src, "future", []byte("future\n"))
	writeFile(t, src, "y2040", []byte("2040\n"))
	must(t, os.Symlink("future", filepath.Join(src, "link")))
	for name, ts := range map[string]unix.Timespec{"d/old": old, "future": future, "link": old, "d": future, "y2040": at(2040)} {
		must(t, unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(src, name), []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW))
	}
	env := map[string]string{envCacheDir: filepath.Join(dir, "cache"), envRepository: filepath.Join(dir, "repo")}
	runAppOK(t, env, "init")
	runAppOK(t, env, "snapshot", src)
	target := filepath.Join(mnt, "out")
	// The restore says what it could not keep.
	code, r, _ := runApp(t, env, "restore", "latest", "--target", target, "--json")
	var first struct {
		Warnings []struct{ Path, Error string }
	}
	must(t, json.Unmarshal([]byte(r), &first))
	noted := map[string]bool{}
	for _, w := range first.Warnings {
		if strings.Contains(w.Error, "out of the range the target's file system holds") {
			noted[strings.TrimPrefix(w.Path, target+"/")] = true
		}
	}
	if code != exitOK || len(noted) != 4 || !noted["d"] || !noted["d/old"] || !noted["future"] || !noted["link"] {
		t.Errorf("restore of times ext4 cannot hold: exit %d, warned about %v; want 0, and d, d/old, future and link\n%s", code, noted, r)
	}
	var st unix.Stat_t
	must(t, unix.Lstat(filepath.Join(target, "d", "old"), &st))
	if st.Mtim.Sec != -1<<31 { // 1901-12-13
		t.Fatalf("ext4 kept the time %v of 1850: not the file system this test needs", st.Mtim)
	}
	var out struct {
		Unchanged int64 `json:"unchanged"`
		Fixed     int64 `json:"metadata_fixed"`
		Bytes     int64 `json:"bytes"`
	}
	var before, after unix.Stat_t
	must(t, unix.Stat(target, &before))
	time.Sleep(20 * time.Millisecond)
	r = runAppOK(t, env, "restore", "latest", "--target", target, "--delete", "--json")
	must(t, json.Unmarshal([]byte(r), &out))
	if out.Fixed != 0 || out.Bytes != 0 || out.Unchanged != 4 {
		t.Errorf("rollback of an unchanged tree: %d unchanged, %d fixed, %d bytes written, want 4, 0, 0\n%s",
			out.Unchanged, out.Fixed, out.Bytes, r)
	}
	// Nothing probed the limits: a file made and deleted in the target
	// changed its ctime at every rollback.
	must(t, unix.Stat(target, &after))
	if after.Ctim != before.Ctim {
		t.Errorf("the rollback of an unchanged tree changed the target's ctime")
	}
}

// TestRollbackProbesNothing: a rollback of an unchanged tree onto ext4
// makes no probe file in the target, whose ctime stays: the case of
// names is told from those the target holds, and the limits of its times
// are probed only for an image holding a time beyond 32 bits. Where such
// a probe is needed, a target that is append-only (chattr +a), where the
// probe could not be removed, gets none: each rollback left one or two
// behind, and changed the target's times. It needs root (mount, chattr).
func TestRollbackProbesNothing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	dir := t.TempDir()
	mnt := mountExt4(t, dir)
	src := filepath.Join(dir, "src")
	writeFile(t, src, "Docs/a", []byte("a\n"))
	writeFile(t, src, "b", []byte("b\n"))
	env := map[string]string{envCacheDir: filepath.Join(dir, "cache"), envRepository: filepath.Join(dir, "repo")}
	runAppOK(t, env, "init")
	runAppOK(t, env, "snapshot", src)
	target := filepath.Join(mnt, "plain")
	runAppOK(t, env, "restore", "latest", "--target", target)
	var before, after unix.Stat_t
	must(t, unix.Stat(target, &before))
	time.Sleep(20 * time.Millisecond)
	runAppOK(t, env, "restore", "latest", "--target", target, "--delete")
	must(t, unix.Stat(target, &after))
	if after.Ctim != before.Ctim {
		t.Errorf("a rollback of an unchanged tree changed the target's ctime from %v to %v", before.Ctim, after.Ctim)
	}

	old := unix.Timespec{Sec: -3 << 31} // 1833: a probe of the limits is needed
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(src, "b"), []unix.Timespec{old, old}, 0))
	runAppOK(t, env, "snapshot", src)
	target = filepath.Join(mnt, "locked")
	runAppOK(t, env, "restore", "latest", "--target", target)
	if out, err := exec.Command("chattr", "+a", target).CombinedOutput(); err != nil {
		t.Fatalf("chattr +a: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("chattr", "-a", target).Run() })
	must(t, unix.Stat(target, &before))
	code, out, errOut := runApp(t, env, "restore", "latest", "--target", target, "--delete")
	must(t, unix.Stat(target, &after))
	names, err := os.ReadDir(target)
	must(t, err)
	if code != exitOK || len(names) != 2 || after.Mtim != before.Mtim {
		t.Errorf("rollback onto an append-only target: exit %d, %d names (want Docs, b), mtime %v (was %v)\n%s%s",
			code, len(names), after.Mtim, before.Mtim, out, errOut)
	}
}
