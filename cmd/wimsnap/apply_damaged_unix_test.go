//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestApplyDamagedReadOnlyDirUnprivileged: as an unprivileged user, a
// file whose data in the WIM is damaged is removed, not left empty, also
// from a directory whose mode (0555) the apply has set by then; the
// directory ends with its mode and times.
func TestApplyDamagedReadOnlyDirUnprivileged(t *testing.T) {
	bin, tmp := binaryForNobody(t)
	src := filepath.Join(tmp, "src")
	writeFile(t, src, "ro/big.bin", wimtest.RandomBytes(7, 300<<10))
	writeFile(t, src, "ro/ok.txt", []byte("ok"))
	must(t, os.Chmod(filepath.Join(src, "ro"), 0o555))
	wimPath := filepath.Join(tmp, "x.wim")
	mustRun(t, bin, exitOK, "capture", src, wimPath, "--compress=none")
	b, err := os.ReadFile(wimPath)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40 // in big.bin's data, which fills most of the WIM
	must(t, os.WriteFile(wimPath, b, 0o644))
	out := filepath.Join(tmp, "out")
	code, outb, err := applyAsNobody(t, bin, wimPath, out)
	if code != exitFailure || !strings.Contains(string(outb), "ro/big.bin") ||
		!strings.Contains(string(outb), " 1 files,") {
		t.Fatalf("apply as nobody: exit %d (%v), want 1, a warning about ro/big.bin and 1 file applied:\n%s", code, err, outb)
	}
	if _, err := os.Lstat(filepath.Join(out, "ro", "big.bin")); !os.IsNotExist(err) {
		t.Errorf("the damaged file is left behind (%v)", err)
	}
	// The tree to expect: the source without the file, its directory's
	// times as captured (root may remove from a 0555 directory).
	ro := filepath.Join(src, "ro")
	fi, err := os.Stat(ro)
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.Remove(filepath.Join(ro, "big.bin")))
	must(t, os.Chtimes(ro, fi.ModTime(), fi.ModTime()))
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{IgnoreOwners: true, IgnoreRoot: true})
}

// TestApplySolidUnsearchableDirUnprivileged: as an unprivileged user, a
// file of a solid WIM (written after the walk, in the order of its data)
// in directories whose modes bar their owner from searching in them (0644)
// gets its contents, and the directories their modes at the end. The file
// stayed empty, counted as applied, with a warning that it could not be
// reopened: the directories had their modes by then.
func TestApplySolidUnsearchableDirUnprivileged(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	bin, tmp := binaryForNobody(t)
	src := filepath.Join(tmp, "src")
	writeFile(t, src, "up/d/f", []byte("hello\n"))
	for _, d := range []string{"up/d", "up"} {
		must(t, os.Chmod(filepath.Join(src, d), 0o644))
	}
	wimPath := filepath.Join(tmp, "x.wim")
	if out, err := exec.Command("wimlib-imagex", "capture", src, wimPath, "--solid", "--unix-data").CombinedOutput(); err != nil {
		t.Fatalf("wimlib-imagex capture --solid: %v\n%s", err, out)
	}
	for _, d := range []string{"up", "up/d"} {
		must(t, os.Chmod(filepath.Join(src, d), 0o755)) // for CompareTrees, as root
	}
	out := filepath.Join(tmp, "out")
	code, outb, err := applyAsNobody(t, bin, wimPath, out)
	if code != exitOK {
		t.Fatalf("apply as nobody: exit %d (%v), want 0:\n%s", code, err, outb)
	}
	for _, d := range []string{"up/d", "up"} {
		fi, err := os.Stat(filepath.Join(out, d))
		if err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: %v, %v; want mode 0644", d, fi, err)
		}
	}
	for _, d := range []string{"up", "up/d"} {
		must(t, os.Chmod(filepath.Join(out, d), 0o755))
	}
	if b, err := os.ReadFile(filepath.Join(out, "up/d/f")); string(b) != "hello\n" {
		t.Errorf("up/d/f: %q, %v; want its contents", b, err)
	}
}

// applyAsNobody runs bin apply of image 1 of wimPath into out, made for
// the purpose, as the user nobody (65534), and returns its exit code and
// output.
func applyAsNobody(t *testing.T, bin, wimPath, out string) (int, []byte, error) {
	t.Helper()
	if err := os.Mkdir(out, 0o755); err != nil || os.Chown(out, 65534, 65534) != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "apply", wimPath, "1", out)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	outb, err := cmd.CombinedOutput()
	return cmd.ProcessState.ExitCode(), outb, err
}
