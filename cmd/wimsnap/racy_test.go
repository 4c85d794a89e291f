//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRacyCoarseTimes: on a file system of whole-second times (ext4 with
// 128-byte inodes), a file changed in the same second as the snapshot
// that read it, its size kept, is read again by the next snapshot: every
// later snapshot took it for unchanged and kept the old contents.
func TestRacyCoarseTimes(t *testing.T) {
	dir := t.TempDir()
	mnt := mountExt4(t, dir, "-I", "128")
	src := filepath.Join(mnt, "src")
	env := map[string]string{envCacheDir: filepath.Join(dir, "cache"), envRepository: filepath.Join(dir, "repo")}
	runAppOK(t, env, "init")
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
	writeFile(t, src, "f", []byte("v1\n"))
	runAppOK(t, env, "snapshot", src)
	writeFile(t, src, "f", []byte("v2\n")) // the same second, the same size
	if st, err := os.Stat(filepath.Join(src, "f")); err != nil || st.ModTime().Nanosecond() != 0 {
		t.Fatalf("not whole-second times: %v, %v", st.ModTime(), err)
	}
	runAppOK(t, env, "snapshot", src)
	runAppOK(t, env, "restore", "latest", "--target", filepath.Join(dir, "out"))
	if got, _ := os.ReadFile(filepath.Join(dir, "out", "f")); !strings.Contains(string(got), "v2") {
		t.Errorf("the latest snapshot holds %q, want v2", got)
	}
}
