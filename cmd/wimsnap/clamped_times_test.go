//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRollbackClampedTimes: a rollback onto ext4 of files, a directory and
// a symlink whose times ext4 cannot hold (before 1901, after 2446; tmpfs
// keeps them) finds them unchanged: the kernel clamped the times the first
// restore set, and every rollback rewrote the files and fixed the rest. It
// needs to mount a tmpfs and an ext4 image (root).
func TestRollbackClampedTimes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	mountSmall(t, "wimsnap-clamped-times", src)
	mnt := mountExt4(t, dir)
	at := func(year int) unix.Timespec {
		return unix.NsecToTimespec(time.Date(year, 6, 1, 12, 0, 0, 500, time.UTC).UnixNano())
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
	runAppOK(t, env, "restore", "latest", "--target", target)
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
	r := runAppOK(t, env, "restore", "latest", "--target", target, "--delete", "--json")
	must(t, json.Unmarshal([]byte(r), &out))
	if out.Fixed != 0 || out.Bytes != 0 || out.Unchanged != 4 {
		t.Errorf("rollback of an unchanged tree: %d unchanged, %d fixed, %d bytes written, want 4, 0, 0\n%s",
			out.Unchanged, out.Fixed, out.Bytes, r)
	}
	// 2038-01-19T03:14:07Z, where a 32-bit time stops, is a time this
	// file system holds (its limits are probed): a file there is fixed.
	y2038 := unix.Timespec{Sec: 1<<31 - 1}
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(target, "y2040"), []unix.Timespec{y2038, y2038}, 0))
	r = runAppOK(t, env, "restore", "latest", "--target", target, "--delete", "--json")
	must(t, json.Unmarshal([]byte(r), &out))
	must(t, unix.Lstat(filepath.Join(target, "y2040"), &st))
	if out.Fixed+out.Bytes == 0 || st.Mtim.Sec == y2038.Sec {
		t.Errorf("a file at 2038-01-19T03:14:07Z, 2040 in the snapshot, was left as it was: %+v\n%s", st.Mtim, r)
	}
}
