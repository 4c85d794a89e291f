//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSharedRepositoryGroup: a repository made below a directory shared
// with a group (install -d -m 2770 -g GROUP) by its owner under the usual
// umask 022 can be used by another member of the group: the directories
// made were 2750 (the umask took the group's write access), or private
// below a new directory, and the member could not take a lock.
func TestSharedRepositoryGroup(t *testing.T) {
	bin, tmp := binaryForNobody(t)
	old := unix.Umask(0o022)
	t.Cleanup(func() { unix.Umask(old) })
	const nogroup = 65534
	srv := filepath.Join(tmp, "srv")
	must(t, os.Mkdir(srv, 0o755))
	must(t, os.Chown(srv, 0, nogroup))
	must(t, os.Chmod(srv, 0o770|os.ModeSetgid))
	src := filepath.Join(tmp, "src")
	writeFile(t, src, "f", []byte("shared\n"))
	must(t, os.Chmod(src, 0o755))
	must(t, os.Chmod(filepath.Join(src, "f"), 0o644))
	repo := filepath.Join(srv, "pc1")
	owner := []string{"HOME=" + filepath.Join(tmp, "owner")}
	for _, args := range [][]string{{"init", "--repo", repo}, {"snapshot", src, "--repo", repo, "--host", "owner"}} {
		if res := runBin(t, bin, owner, args...); res.code != exitOK {
			t.Fatalf("%s as the owner: exit %d: %s", args[0], res.code, res.stderr)
		}
	}
	home := filepath.Join(tmp, "member")
	must(t, os.Mkdir(home, 0o755))
	must(t, os.Chown(home, 65534, nogroup))
	for _, args := range [][]string{
		{"snapshot", src, "--repo", repo, "--host", "member"},
		{"restore", "latest", "--repo", repo, "--target", filepath.Join(home, "out")},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: nogroup}}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s as a member of the group: %v\n%s", args[0], err, out)
		}
	}
}
