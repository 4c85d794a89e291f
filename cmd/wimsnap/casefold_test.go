//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestRestoreCaseInsensitiveTarget: restoring a tree with two names that
// differ only in case onto a file system that does not tell them apart
// (NTFS mounted by lowntfs-3g with ignore_case, as FAT or exFAT would be)
// makes the first, skips the second with a warning naming both (exit 3),
// and a second restore settles: it used to write the second over the
// first, report both written, and rewrite one at every run. A rollback
// with --delete deletes nothing there.
func TestRestoreCaseInsensitiveTarget(t *testing.T) {
	requireNTFS(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, filepath.Join(src, "Case"), "A", []byte("upper\n"))
	writeFile(t, filepath.Join(src, "Case"), "a", []byte("lower\n"))
	writeFile(t, src, "Mixed", []byte("mixed\n")) // listed in lower case on the mount
	mnt := filepath.Join(dir, "mnt")
	must(t, os.Mkdir(mnt, 0o755))
	if out, err := exec.Command("lowntfs-3g", "-o", "ignore_case", ntfsVolume(t, filepath.Join(dir, "vol")), mnt).CombinedOutput(); err != nil {
		t.Fatalf("lowntfs-3g: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	env := map[string]string{envCacheDir: filepath.Join(dir, "cache"), envRepository: filepath.Join(dir, "repo")}
	runAppOK(t, env, "init")
	runAppOK(t, env, "snapshot", src)
	target := filepath.Join(mnt, "out")
	for run, want := range []string{`"unchanged": 0`, `"unchanged": 2`} {
		code, out, errb := runApp(t, env, "restore", "latest", "--target", target, "--no-unix-data", "--json")
		if code != exitPartial || !strings.Contains(out, `does not tell it from \"A\"`) || !strings.Contains(out, `"skipped": 1`) {
			t.Errorf("restore %d: exit %d, want %d with a/A named: %s%s", run+1, code, exitPartial, out, errb)
		}
		if !strings.Contains(out, want) {
			t.Errorf("restore %d: want %s: %s", run+1, want, out)
		}
		if got, err := os.ReadFile(filepath.Join(target, "Case", "A")); string(got) != "upper\n" {
			t.Errorf("restore %d: Case/A = %q (%v), want the first name's contents", run+1, got, err)
		}
	}
	// A dry run counts as the restore: it said 2 to write, exit 0. Into a
	// new directory, it asks the directory above.
	code, out, _ := runApp(t, env, "restore", "latest", "--target", target, "--no-unix-data", "--dry-run", "--json")
	if code != exitPartial || !strings.Contains(out, `"skipped": 1`) || !strings.Contains(out, `"unchanged": 2`) {
		t.Errorf("dry run: exit %d, want %d with 1 skipped, 2 unchanged: %s", code, exitPartial, out)
	}
	code, out, _ = runApp(t, env, "restore", "latest", "--target", filepath.Join(mnt, "new"), "--no-unix-data", "--dry-run", "--json")
	if code != exitPartial || !strings.Contains(out, `"skipped": 1`) {
		t.Errorf("dry run into a new directory: exit %d, want %d with 1 skipped: %s", code, exitPartial, out)
	}
	// extract of two paths that differ only in case keeps the first too:
	// it wrote the second over it, exit 0.
	wimfile := filepath.Join(dir, "c.wim")
	runAppOK(t, env, "capture", filepath.Join(src, "Case"), wimfile)
	code, _, errb := runApp(t, env, "extract", wimfile, "1", "/A", "/a", "--dest-dir", filepath.Join(mnt, "ex"))
	if got, err := os.ReadFile(filepath.Join(mnt, "ex", "A")); code != exitPartial || string(got) != "upper\n" {
		t.Errorf("extract /A /a: exit %d, A = %q (%v), want %d and the first's contents: %s", code, got, err, exitPartial, errb)
	}
	// --delete takes no name for another in another case: it deleted
	// Mixed, listed as "mixed", at every run.
	for run := range 2 {
		_, out, _ := runApp(t, env, "restore", "latest", "--target", target, "--no-unix-data", "--delete", "--json")
		if !strings.Contains(out, `"deleted": 0`) || !strings.Contains(out, `"unchanged": 2`) {
			t.Errorf("restore --delete %d: want nothing deleted, 2 unchanged: %s", run+1, out)
		}
	}
}

// TestRestoreDryRunExfat: on exFAT through FUSE, which gives each case of
// a name an inode number of its own, the dry run of a rollback over names
// in another case than the snapshot's predicts what the rollback does:
// nothing deleted. It counted them all as deletions (the rollback writes
// over them).
func TestRestoreDryRunExfat(t *testing.T) {
	mnt := mountExfat(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "readme", []byte("restored\n"))
	writeFile(t, filepath.Join(src, "Docs"), "manual", []byte("doc\n"))
	env := map[string]string{envCacheDir: filepath.Join(dir, "cache"), envRepository: filepath.Join(dir, "repo")}
	runAppOK(t, env, "init")
	runAppOK(t, env, "snapshot", src)
	target := filepath.Join(mnt, "c")
	writeFile(t, target, "README", []byte("old\n"))
	writeFile(t, filepath.Join(target, "docs"), "manual", []byte("old\n"))
	restore := []string{"restore", "latest", "--target", target, "--no-unix-data", "--delete", "--json"}
	_, dry, _ := runApp(t, env, append(restore, "--dry-run")...)
	_, real, _ := runApp(t, env, restore...)
	if !strings.Contains(dry, `"deleted": 0`) || !strings.Contains(real, `"deleted": 0`) {
		t.Errorf("want nothing deleted by the dry run and the rollback:\n%s\n%s", dry, real)
	}
	if got, err := os.ReadFile(filepath.Join(target, "readme")); string(got) != "restored\n" {
		t.Errorf("readme = %q (%v), want the snapshot's", got, err)
	}
}

// mountExfat mounts a new exFAT volume of 64 MiB with exfat-fuse and
// returns its mount point; it skips the test without root, a loop device
// or the tools (Debian exfat-fuse, exfatprogs), and fails then where the
// wimlib oracle set is required (make deps installs them).
func mountExfat(t *testing.T) string {
	t.Helper()
	var missing []string
	for _, tool := range []string{"mkfs.exfat", "mount.exfat-fuse", "losetup"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if os.Geteuid() != 0 {
		missing = append(missing, "root (to mount)")
	}
	if len(missing) > 0 {
		if strings.Contains(os.Getenv(wimtest.RequireEnv), "wimlib") {
			t.Fatalf("exFAT tests need %s (Debian exfat-fuse, exfatprogs)", strings.Join(missing, ", "))
		}
		t.Skipf("exFAT tests need %s", strings.Join(missing, ", "))
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "exfat.img"), filepath.Join(dir, "mnt")
	must(t, os.Mkdir(mnt, 0o755))
	must(t, os.WriteFile(img, nil, 0o644))
	must(t, os.Truncate(img, 64<<20))
	if out, err := exec.Command("mkfs.exfat", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.exfat: %v\n%s", err, out)
	}
	out, err := exec.Command("losetup", "--find", "--show", img).Output()
	if err != nil {
		t.Skipf("no loop device: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command("losetup", "-d", dev).Run() })
	if out, err := exec.Command("mount.exfat-fuse", dev, mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount.exfat-fuse: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	return mnt
}
