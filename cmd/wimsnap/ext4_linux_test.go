//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// mountExt4 makes a 16 MiB ext4 file system (mkfs.ext4 with args, such as
// "-I", "128") in a file of dir, mounts it at dir/mnt for the rest of the
// test and returns that path. It skips the test where that cannot be
// done: not root, no mkfs.ext4 (Debian e2fsprogs), no loop device.
func mountExt4(t *testing.T, dir string, args ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("mkfs.ext4 (Debian e2fsprogs) is missing")
	}
	img, mnt := filepath.Join(dir, "fs.img"), filepath.Join(dir, "mnt")
	must(t, os.WriteFile(img, nil, 0o644))
	must(t, os.Truncate(img, 16<<20))
	if out, err := exec.Command("mkfs.ext4", append(append([]string{"-q"}, args...), "-F", img)...).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	must(t, os.Mkdir(mnt, 0o755))
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		t.Skipf("mount -o loop: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	return mnt
}
