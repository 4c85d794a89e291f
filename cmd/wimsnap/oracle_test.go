//go:build unix

package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestOracleCaptureAppend drives the binary on a tree with every kind of
// entry and lets wimlib-imagex judge the result: it verifies the WIM, lists
// and applies both images of an --update-of append, and the trees match the
// source as it was at each capture. The append stores only what changed.
func TestOracleCaptureAppend(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	bin := buildBinary(t)
	tmp := t.TempDir()
	src, wimfile := filepath.Join(tmp, "src"), filepath.Join(tmp, "t.wim")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	mustRun(t, bin, 0, "capture", src, wimfile, "--compress=xpress", "--name=first", "--check")
	wimtest.Wimlib(t, "verify", wimfile)
	first := filepath.Join(tmp, "first")
	wimtest.Wimlib(t, "apply", wimfile, "1", first, "--unix-data")
	wimtest.CompareTrees(t, src, first, wimtest.CompareOptions{})

	// Change one file, add one: the second image shares everything else.
	change := strings.Repeat("changed content ", 4096)
	if err := os.WriteFile(filepath.Join(src, "small.txt"), []byte(change), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "data", "added.txt"), []byte("added"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(wimfile)
	res := mustRun(t, bin, 0, "append", src, wimfile, "--name=second", "--update-of=1", "--json")
	var sum captureSummary
	if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(wimfile)
	if grown := after.Size() - before.Size(); grown > 64<<10 {
		t.Errorf("append grew the WIM by %d bytes for a ~64 KiB compressible change: unchanged streams not shared", grown)
	}
	if sum.Reused == 0 || sum.BytesRead > int64(len(change))+5 {
		t.Errorf("append read %d bytes and reused %d files; want only the changed files read", sum.BytesRead, sum.Reused)
	}
	wimtest.Wimlib(t, "verify", wimfile)
	list := wimtest.Wimlib(t, "dir", wimfile, "2")
	if !strings.Contains(list, "/data/added.txt") {
		t.Errorf("wimlib dir of image 2 lacks the added file:\n%.400s", list)
	}
	second := filepath.Join(tmp, "second")
	wimtest.Wimlib(t, "apply", wimfile, "2", second, "--unix-data")
	wimtest.CompareTrees(t, src, second, wimtest.CompareOptions{})
	// Without --name the default name, taken, gets a suffix as in wimlib.
	mustRun(t, bin, 0, "append", src, wimfile, "--update-of=2")
	mustRun(t, bin, 0, "append", src, wimfile, "--update-of=2")
	if info := wimtest.Wimlib(t, "info", wimfile, "4"); !strings.Contains(info, "src (1)") {
		t.Errorf("fourth image not named \"src (1)\":\n%s", info)
	}
	again := filepath.Join(tmp, "first-again")
	wimtest.Wimlib(t, "apply", wimfile, "first", again, "--unix-data")
	wimtest.CompareTrees(t, first, again, wimtest.CompareOptions{})
}

// TestPartialExit runs a capture as an unprivileged user over a tree with
// an unreadable file: the file is reported, the capture finishes, and the
// exit code is the partial code 3.
func TestPartialExit(t *testing.T) {
	bin, tmp := binaryForNobody(t)
	src := filepath.Join(tmp, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{"ok.txt": 0o644, "secret.txt": 0o000} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(name), mode); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "capture", src, filepath.Join(tmp, "p.wim"), "--json")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitPartial {
		t.Fatalf("capture as nobody: %v, want exit %d\n%s", err, exitPartial, out)
	}
	var sum captureSummary
	if err := json.Unmarshal(out, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != 1 || sum.Files != 1 || len(sum.Warnings) != 1 || !strings.Contains(sum.Warnings[0].Path, "secret.txt") {
		t.Errorf("summary %+v, want secret.txt skipped and reported", sum)
	}
}

// TestAppendKilled kills appends with SIGKILL at several moments: each time
// the WIM must still verify, with wimlib-imagex too, and hold its old image.
func TestAppendKilled(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	bin := buildBinary(t)
	tmp := t.TempDir()
	src, wimfile := filepath.Join(tmp, "src"), filepath.Join(tmp, "k.wim")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	mustRun(t, bin, 0, "capture", src, wimfile, "--name=old")
	// Something to keep the append busy: a 1 GiB sparse file costs no disk,
	// but hashing and compressing its zeros takes a second or more.
	wimtest.SparseFile(t, filepath.Join(src, "big"), 1<<30)
	for _, delay := range []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, 600 * time.Millisecond} {
		cmd := exec.Command(bin, "append", src, wimfile, "--name=new")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatalf("kill after %v: %v (the append must still be running)", delay, err)
		}
		_ = cmd.Wait() // killed: the exit status is the signal
		mustRun(t, bin, 0, "verify", wimfile)
		wimtest.Wimlib(t, "verify", wimfile)
		info := wimtest.Wimlib(t, "info", wimfile, "1")
		if !strings.Contains(info, "old") {
			t.Fatalf("after a kill at %v the old image is gone:\n%s", delay, info)
		}
	}
}

// TestFullDisk captures into, and applies onto, a 2 MiB tmpfs: both fail
// with one clear "no space" message and exit 1; the capture leaves no
// partial WIM behind. It needs root to mount the tmpfs.
func TestFullDisk(t *testing.T) {
	bin := buildBinary(t)
	tmp := t.TempDir()
	full := filepath.Join(tmp, "full")
	if err := os.Mkdir(full, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("wimsnap-full", full, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(full, 0); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	src := filepath.Join(tmp, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	noise := make([]byte, 4<<20)
	if _, err := rand.Read(noise); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "noise"), noise, 0o644); err != nil {
		t.Fatal(err)
	}
	res := runBin(t, bin, nil, "capture", src, filepath.Join(full, "x.wim"))
	if res.code != exitFailure || !strings.Contains(res.stderr, "no space left") {
		t.Errorf("capture onto a full disk: exit %d, stderr %q", res.code, res.stderr)
	}
	if left, _ := os.ReadDir(full); len(left) != 0 {
		t.Errorf("left behind on the full disk: %v", left)
	}
	wimfile := filepath.Join(tmp, "x.wim")
	mustRun(t, bin, 0, "capture", src, wimfile)
	res = runBin(t, bin, nil, "apply", wimfile, filepath.Join(full, "out"))
	if res.code != exitFailure || !strings.Contains(res.stderr, "no space left") {
		t.Errorf("apply onto a full disk: exit %d, stderr %q", res.code, res.stderr)
	}
}

// TestRollbackReadOnlyDirsUnprivileged: as an unprivileged owner, a
// rollback replaces and deletes files in directories without owner write
// permission (the snapshot's mode, 0555), and a second rollback finds
// nothing to do; the directories end with their mode.
func TestRollbackReadOnlyDirsUnprivileged(t *testing.T) {
	bin, tmp := binaryForNobody(t)
	home := filepath.Join(tmp, "home")
	if err := os.Mkdir(home, 0o755); err != nil || os.Chown(home, 65534, 65534) != nil {
		t.Fatal(err)
	}
	run, sh := nobodyIn(t, bin, home)
	sh("mkdir -p src/ro/sub && for i in 1 2 3 4 5 6 7 8; do echo $i > src/ro/f$i; done && echo s > src/ro/sub/s && chmod 555 src/ro/sub src/ro")
	run(exitOK, "init")
	run(exitOK, "snapshot", "src")
	run(exitOK, "restore", "latest", "--target", "t")
	sh("chmod 755 t/ro t/ro/sub && echo changed > t/ro/f3 && echo x > t/ro/extra && echo y > t/ro/sub/extra && " +
		"mkdir -p t/ro/gone/deep && echo z > t/ro/gone/deep/z && chmod 555 t/ro/gone/deep t/ro/gone t/ro/sub t/ro")
	run(exitOK, "restore", "latest", "--target", "t", "--delete")
	wimtest.CompareTrees(t, filepath.Join(home, "src"), filepath.Join(home, "t"), wimtest.CompareOptions{})
	if out := run(exitOK, "restore", "latest", "--target", "t", "--delete"); !strings.Contains(out, "0 written (0 B), 9 left in place, 0 deleted") {
		t.Errorf("second rollback: %s", out)
	}
}

// TestRollbackModeZeroDirsUnprivileged: as an unprivileged owner, a
// rollback empties and removes a directory of mode 000 that the snapshot
// lacks, and deletes the extra files of one of mode 000 that it has (the
// directory then gets the snapshot's mode), where it could not read them.
func TestRollbackModeZeroDirsUnprivileged(t *testing.T) {
	bin, tmp := binaryForNobody(t)
	home := filepath.Join(tmp, "home")
	if err := os.Mkdir(home, 0o755); err != nil || os.Chown(home, 65534, 65534) != nil {
		t.Fatal(err)
	}
	run, sh := nobodyIn(t, bin, home)
	sh("mkdir -p src/d && echo f > src/d/f")
	run(exitOK, "init")
	run(exitOK, "snapshot", "src")
	run(exitOK, "restore", "latest", "--target", "t")
	sh("echo x > t/d/extra && mkdir -p t/gone/deep && echo z > t/gone/deep/z && chmod 000 t/gone/deep t/gone t/d")
	run(exitOK, "restore", "latest", "--target", "t", "--delete")
	wimtest.CompareTrees(t, filepath.Join(home, "src"), filepath.Join(home, "t"), wimtest.CompareOptions{})
}

// nobodyIn returns run, which runs bin with args as user 65534 in home
// (with its repository and cache there) and fails the test unless it
// exits with want, returning its output, and sh, which runs a shell
// script as that user in home and fails the test if it fails.
func nobodyIn(t *testing.T, bin, home string) (run func(want int, args ...string) string, sh func(script string)) {
	t.Helper()
	env := []string{"HOME=" + home, envCacheDir + "=" + filepath.Join(home, "cache"), envRepository + "=" + filepath.Join(home, "repo")}
	nobody := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	run = func(want int, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		cmd.Dir = home
		cmd.SysProcAttr = nobody
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Fatalf("wimsnap %v as nobody: exit %d, want %d\n%s", args, code, want, out)
		}
		return string(out)
	}
	sh = func(script string) {
		t.Helper()
		cmd := exec.Command("sh", "-ec", script)
		cmd.Dir = home
		cmd.SysProcAttr = nobody
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
	}
	return run, sh
}

// TestApplySolidReadOnlyDirsUnprivileged: as an unprivileged user, apply
// of a solid WIM (whose symlinks are made after the walk, in stream order)
// makes the symlinks and files of a directory whose mode is 0555, and the
// directory ends with its mode and times; applied again over that tree,
// it replaces them.
func TestApplySolidReadOnlyDirsUnprivileged(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	bin, tmp := binaryForNobody(t)
	src := filepath.Join(tmp, "src")
	script := "mkdir -p src/ro && echo data > src/ro/f && echo r > src/ro/r && chmod 444 src/ro/r && " +
		"ln -s f src/ro/link && chmod 555 src/ro && wimlib-imagex capture src solid.wim --solid --unix-data >/dev/null && chmod 644 solid.wim"
	cmd := exec.Command("sh", "-ec", script)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out := filepath.Join(tmp, "out")
	if err := os.Mkdir(out, 0o755); err != nil || os.Chown(out, 65534, 65534) != nil {
		t.Fatal(err)
	}
	// The second apply goes over the first's tree, whose directory has
	// mode 0555 by then: it must still replace what the directory holds.
	for i := range 2 {
		cmd = exec.Command(bin, "apply", filepath.Join(tmp, "solid.wim"), "1", out)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		// The one warning: root's files become nobody's.
		b, err := cmd.CombinedOutput()
		if warned := strings.Count(string(b), "warning"); err != nil || warned != 1 || !strings.Contains(string(b), "owners not set on 5 entries") {
			t.Fatalf("apply %d as nobody: %v\n%s", i+1, err, b)
		}
		wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{IgnoreOwners: true, IgnoreRoot: true})
	}
}

// binaryForNobody returns a copy of the binary that user nobody may run,
// in a temporary folder (also returned) open to other users; it skips the
// test unless it runs as root, which may run commands as nobody.
func binaryForNobody(t *testing.T) (bin, tmp string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to run commands as another user")
	}
	data, err := os.ReadFile(buildBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	tmp = t.TempDir()
	// The test's temporary folders are closed to other users: open them.
	for _, d := range []string{filepath.Dir(tmp), tmp} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	bin = filepath.Join(tmp, "wimsnap")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, tmp
}

// TestCheckStopsUnfinished: a pack its user may not open is named as a
// problem and the other packs are still read; a check that cannot go on
// (here: the index objects cannot be listed) fails with that error and
// prints no verdict, rather than counts that read as "0 snapshots, 0
// problems".
func TestCheckStopsUnfinished(t *testing.T) {
	bin, tmp := binaryForNobody(t)
	env := testRepoEnv(t)
	repo := env[envRepository]
	if err := filepath.WalkDir(filepath.Dir(repo), func(p string, d os.DirEntry, err error) error {
		if err == nil {
			err = os.Chmod(p, map[bool]os.FileMode{true: 0o777, false: 0o644}[d.IsDir()])
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	packs, _ := filepath.Glob(filepath.Join(repo, "packs", "*", "*"))
	if len(packs) == 0 {
		t.Fatal("no pack")
	}
	if err := os.Chmod(packs[0], 0); err != nil {
		t.Fatal(err)
	}
	check := func() map[string]any {
		t.Helper()
		// --no-lock: nobody may not write into root's repository (foreignWrites).
		cmd := exec.Command(bin, "check", "--read-data", "--json", "--no-lock")
		cmd.Env = []string{"HOME=" + tmp, envRepository + "=" + repo, envCacheDir + "=" + filepath.Join(tmp, "cache")}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.Output()
		var doc map[string]any
		if jerr := json.Unmarshal(out, &doc); jerr != nil || err == nil {
			t.Fatalf("check: %v, %v: %s", err, jerr, out)
		}
		return doc
	}
	doc := check()
	problems, _ := json.Marshal(doc["problems"])
	if doc["ok"] != false || doc["packs_read"] != float64(len(packs)) ||
		!strings.Contains(string(problems), filepath.Base(packs[0])+": get ") || !strings.Contains(string(problems), "permission denied") {
		t.Errorf("check with a pack it may not read: %v", doc)
	}
	if err := os.Chmod(filepath.Join(repo, "index"), 0); err != nil {
		t.Fatal(err)
	}
	doc = check()
	if msg, _ := doc["error"].(string); doc["ok"] != nil || !strings.Contains(msg, "did not finish") {
		t.Errorf("check that could not list the index objects: %v", doc)
	}
}
