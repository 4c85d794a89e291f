//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// buildBinary builds wimsnap into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "wimsnap")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// runBin runs bin with args and an empty environment plus env, and returns
// its exit code and outputs.
func runBin(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run %v: %v", args, err)
	}
	return res
}

// mustRun runs bin and fails the test unless it exits with want.
func mustRun(t *testing.T, bin string, want int, args ...string) result {
	t.Helper()
	res := runBin(t, bin, nil, args...)
	if res.code != want {
		t.Fatalf("wimsnap %s: exit %d, want %d\nstdout: %s\nstderr: %s",
			strings.Join(args, " "), res.code, want, res.stdout, res.stderr)
	}
	return res
}

// makeTree writes a small tree with files, an empty file, a subdirectory,
// a symlink and a hard link.
func makeTree(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"hello.txt":        "hello, world\n",
		"empty":            "",
		"sub/data.bin":     strings.Repeat("wimsnap ", 10000),
		"sub/deeper/x.txt": "x",
		"sub/same.txt":     "hello, world\n",
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("sub/data.bin", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "hello.txt"), filepath.Join(dir, "hard.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "sub/deeper"), 0o700); err != nil {
		t.Fatal(err)
	}
}

// compareTrees compares the applied tree got with the source want: names,
// contents, links, modes, owners, xattrs and times.
func compareTrees(t *testing.T, want, got string) {
	t.Helper()
	wimtest.CompareTrees(t, want, got, wimtest.CompareOptions{})
}

// removeAtEnd removes path when the test ends; a path that was never
// created is fine.
func removeAtEnd(t *testing.T, path string) {
	t.Helper()
	t.Cleanup(func() {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Error(err)
		}
	})
}

func TestEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	makeTree(t, src)
	wimfile := filepath.Join(tmp, "out.wim")

	var capSum captureSummary
	res := mustRun(t, bin, 0, "capture", src, wimfile, "--json", "--description=test tree", "--check")
	if err := json.Unmarshal([]byte(res.stdout), &capSum); err != nil {
		t.Fatalf("capture --json: %v\n%s", err, res.stdout)
	}
	if capSum.Image != 1 || capSum.Name != "src" || capSum.Files != 6 || capSum.Dirs != 3 ||
		capSum.Symlinks != 1 || capSum.Skipped != 0 || capSum.Warnings == nil || capSum.CompressedBytes <= 0 {
		t.Errorf("capture summary = %+v", capSum)
	}
	leftovers, _ := filepath.Glob(filepath.Join(tmp, ".out.wim.tmp-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	t.Run("info", func(t *testing.T) {
		var doc infoJSON
		res := mustRun(t, bin, 0, "info", "--json", wimfile)
		if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil {
			t.Fatalf("info --json: %v\n%s", err, res.stdout)
		}
		h := doc.Header
		if h.ImageCount != 1 || h.Compression != "xpress" || h.ChunkSize != 32768 || !h.Integrity || len(h.GUID) != 32 {
			t.Errorf("header = %+v", h)
		}
		if len(doc.Images) != 1 {
			t.Fatalf("images = %+v", doc.Images)
		}
		im := doc.Images[0]
		if im.Name != "src" || im.Description != "test tree" || im.FileCount == 0 || im.DirCount == 0 {
			t.Errorf("image = %+v", im)
		}
		if _, err := time.Parse(time.RFC3339, im.CreationTime); err != nil {
			t.Errorf("creation_time %q: %v", im.CreationTime, err)
		}
		text := mustRun(t, bin, 0, "info", wimfile, "src").stdout
		if !strings.Contains(text, "test tree") {
			t.Errorf("info text lacks the description:\n%s", text)
		}
	})

	t.Run("dir", func(t *testing.T) {
		out := mustRun(t, bin, 0, "dir", wimfile).stdout
		for _, p := range []string{"/\n", "/hello.txt\n", "/sub/deeper/x.txt\n", "/link\n"} {
			if !strings.Contains(out, p) {
				t.Errorf("dir lacks %q:\n%s", p, out)
			}
		}
		var doc dirJSON
		res := mustRun(t, bin, 0, "dir", wimfile, "1", "--json", "--detailed")
		if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Entries) != 10 {
			t.Errorf("dir --detailed --json: %d entries, want 10", len(doc.Entries))
		}
	})

	t.Run("verify", func(t *testing.T) {
		mustRun(t, bin, 0, "verify", wimfile)
		var v verifySummary
		if err := json.Unmarshal([]byte(mustRun(t, bin, 0, "verify", wimfile, "--json").stdout), &v); err != nil || !v.OK {
			t.Errorf("verify --json: %+v, %v", v, err)
		}
	})

	t.Run("apply", func(t *testing.T) {
		target := filepath.Join(tmp, "applied", "new")
		mustRun(t, bin, 0, "apply", wimfile, target)
		compareTrees(t, src, target)
		st1, _ := os.Stat(filepath.Join(target, "hello.txt"))
		st2, _ := os.Stat(filepath.Join(target, "hard.txt"))
		if !os.SameFile(st1, st2) {
			t.Error("hard link not restored")
		}
		target2 := filepath.Join(tmp, "applied2")
		mustRun(t, bin, 0, "apply", "--json", wimfile, "src", target2)
		compareTrees(t, src, target2)
	})

	t.Run("wimlib", func(t *testing.T) {
		wimtest.Wimlib(t, "verify", wimfile)
		target := filepath.Join(tmp, "by-wimlib")
		wimtest.Wimlib(t, "apply", wimfile, "1", target, "--unix-data")
		compareTrees(t, src, target)
	})

	t.Run("extract", func(t *testing.T) {
		dest := filepath.Join(tmp, "extracted")
		mustRun(t, bin, 0, "extract", wimfile, "1", "/sub/deeper", "hello.txt", "--dest-dir", dest)
		if b, err := os.ReadFile(filepath.Join(dest, "deeper", "x.txt")); err != nil || string(b) != "x" {
			t.Errorf("extracted deeper/x.txt: %q, %v", b, err)
		}
		if _, err := os.Stat(filepath.Join(dest, "hello.txt")); err != nil {
			t.Error(err)
		}
		res := runBin(t, bin, nil, "extract", wimfile, "1", "/nope", "--dest-dir", dest)
		if res.code != exitFailure || !strings.Contains(res.stderr, "nope") {
			t.Errorf("extract of a missing path: exit %d, stderr %q", res.code, res.stderr)
		}
	})

	t.Run("append", func(t *testing.T) {
		awim := filepath.Join(tmp, "append.wim")
		data, _ := os.ReadFile(wimfile)
		if err := os.WriteFile(awim, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "new.txt"), []byte("new"), 0o644); err != nil {
			t.Fatal(err)
		}
		removeAtEnd(t, filepath.Join(src, "new.txt"))
		res := runBin(t, bin, nil, "append", src, awim, "--name=src")
		if res.code != exitUsage || !strings.Contains(res.stderr, `"src" is already used`) {
			t.Fatalf("append with a taken name: exit %d, stderr %q", res.code, res.stderr)
		}
		var sum captureSummary
		res = mustRun(t, bin, 0, "append", src, awim, "--name=second", "--update-of=1", "--json")
		if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil {
			t.Fatal(err)
		}
		if sum.Image != 2 || sum.Reused == 0 {
			t.Errorf("append summary = %+v", sum)
		}
		mustRun(t, bin, 0, "verify", awim)
		before, _ := os.ReadFile(awim)
		for _, tc := range []struct {
			args []string
			code int
		}{{[]string{"--update-of=9"}, exitUsage}, {[]string{"--compress=none"}, exitUsage}} {
			args := tc.args
			res := runBin(t, bin, nil, append([]string{"append", src, awim, "--name=third"}, args...)...)
			after, _ := os.ReadFile(awim)
			if res.code != tc.code || !bytes.Equal(before, after) {
				t.Errorf("failed append %v: exit %d (stderr %q), file restored: %v", args, res.code, res.stderr, bytes.Equal(before, after))
			}
		}
		res = runBin(t, bin, nil, "apply", awim, filepath.Join(tmp, "x"))
		if res.code != exitUsage || !strings.Contains(res.stderr, "2 images") {
			t.Errorf("apply without IMAGE on 2 images: exit %d, stderr %q", res.code, res.stderr)
		}
		target := filepath.Join(tmp, "second")
		mustRun(t, bin, 0, "apply", awim, "second", target)
		compareTrees(t, src, target)
	})

	t.Run("env", func(t *testing.T) {
		dest := filepath.Join(tmp, "env.wim")
		res := runBin(t, bin, []string{
			"OSDCaptureDestination=" + dest, "OSDTargetSystemRoot=" + src,
			"OSDImageCreator=ops", "OSDImageVersion=1.2.3",
			"OSDCaptureAccount=svc", "OSDCaptureAccountPassword=s3cret",
		}, "capture", "--json")
		if res.code != 0 || strings.Contains(res.stdout+res.stderr, "s3cret") {
			t.Fatalf("capture from env: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		var doc infoJSON
		if err := json.Unmarshal([]byte(mustRun(t, bin, 0, "info", dest, "--json").stdout), &doc); err != nil {
			t.Fatal(err)
		}
		if im := doc.Images[0]; im.Creator != "ops" || im.Version != "1.2.3" {
			t.Errorf("image from env = %+v", im)
		}
	})

	t.Run("capture into the source", func(t *testing.T) {
		self := filepath.Join(src, "self.wim")
		removeAtEnd(t, self)
		mustRun(t, bin, 0, "capture", src, self)
		mustRun(t, bin, 0, "append", src, self, "--name=again")
		for _, image := range []string{"1", "2"} {
			out := mustRun(t, bin, 0, "dir", self, image).stdout
			if strings.Contains(out, "self.wim") {
				t.Errorf("image %s holds the WIM itself:\n%s", image, out)
			}
		}
	})

	t.Run("warnings", func(t *testing.T) {
		odd := filepath.Join(tmp, "odd")
		if err := os.MkdirAll(odd, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(odd, "bad\xffname"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		res := mustRun(t, bin, 0, "capture", odd, filepath.Join(tmp, "odd1.wim"))
		if !strings.HasPrefix(res.stderr, "wimsnap: warning: ") || !strings.Contains(res.stderr, "UTF-8") {
			t.Errorf("text warning: stderr %q", res.stderr)
		}
		res = mustRun(t, bin, 0, "capture", odd, filepath.Join(tmp, "odd2.wim"), "--json")
		var sum captureSummary
		if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil {
			t.Fatal(err)
		}
		if res.stderr != "" || len(sum.Warnings) != 1 || sum.WarningsTotal != 1 || sum.Skipped != 0 {
			t.Errorf("json warnings: %+v, stderr %q", sum, res.stderr)
		}
		// JSON strings cannot hold the name; path_bytes does.
		if len(sum.Warnings) == 1 && !strings.HasSuffix(string(sum.Warnings[0].PathBytes), "/bad\xffname") {
			t.Errorf("json warning's path_bytes: %q", sum.Warnings[0].PathBytes)
		}
		var doc dirJSON
		res = mustRun(t, bin, 0, "dir", filepath.Join(tmp, "odd2.wim"), "--json", "--detailed")
		if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range doc.Entries {
			switch {
			case e.Path == "/" && e.PathBytes != nil:
				t.Errorf("path_bytes for a valid path: %+v", e)
			case string(e.PathBytes) == "/bad\xffname":
				found = true
			}
		}
		if !found || !strings.Contains(res.stdout, `"path_bytes": "L2JhZP9uYW1l"`) {
			t.Errorf("dir --json --detailed of a name that is not UTF-8:\n%s", res.stdout)
		}
	})

	t.Run("errors", func(t *testing.T) {
		res := runBin(t, bin, nil, "info", filepath.Join(tmp, "missing.wim"))
		if res.code != exitFailure || !strings.HasPrefix(res.stderr, "wimsnap: ") ||
			!strings.Contains(res.stderr, "missing.wim: no such file or directory") {
			t.Errorf("missing WIM: exit %d, stderr %q", res.code, res.stderr)
		}
		data, _ := os.ReadFile(wimfile)
		for _, n := range []int{0, 100, 208, len(data) / 2, len(data) - 40} {
			bad := filepath.Join(tmp, "truncated.wim")
			if err := os.WriteFile(bad, data[:n], 0o644); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range []string{"info", "verify", "dir"} {
				res := runBin(t, bin, nil, cmd, bad)
				if res.code != exitFailure || !strings.HasPrefix(res.stderr, "wimsnap: ") || strings.Count(res.stderr, "\n") != 1 {
					t.Errorf("%s of a WIM cut to %d bytes: exit %d, stderr %q", cmd, n, res.code, res.stderr)
				}
			}
		}
		res = runBin(t, bin, nil, "capture", src)
		if res.code != exitUsage || !strings.Contains(res.stderr, "OSDCaptureDestination") {
			t.Errorf("capture without WIMFILE: exit %d, stderr %q", res.code, res.stderr)
		}
		res = runBin(t, bin, nil, "apply", wimfile, "7", filepath.Join(tmp, "x"))
		if res.code != exitUsage || !strings.Contains(res.stderr, "image 7") {
			t.Errorf("apply of image 7: exit %d, stderr %q", res.code, res.stderr)
		}
		res = runBin(t, bin, nil, "capture", filepath.Join(tmp, "nosuchdir"), filepath.Join(tmp, "n.wim"))
		if _, err := os.Stat(filepath.Join(tmp, "n.wim")); res.code != exitFailure || err == nil {
			t.Errorf("capture of a missing SOURCE: exit %d, stderr %q, file %v", res.code, res.stderr, err)
		}
	})
}

// TestInterrupt sends SIGINT, then SIGHUP (a closed terminal), during a
// long capture: exit 130, and neither the WIM nor a temporary file is left
// behind. SIGHUP killed it on the spot, leaving its temporary file. A
// capture started with SIGHUP ignored (nohup) goes on after one.
func TestInterrupt(t *testing.T) {
	bin := buildBinary(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	// Sparse: no disk used, but hashing and compressing 64 GiB takes far
	// longer than the test waits.
	wimtest.SparseFile(t, filepath.Join(src, "big.sparse"), 64<<30)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGHUP} {
		out := filepath.Join(tmp, sig.String(), "big.wim")
		if err := os.Mkdir(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "capture", src, out)
		if code, stderr := runSignalled(t, cmd, sig, filepath.Dir(out)); code != exitInterrupted {
			t.Errorf("%v: exit %d, want %d; stderr %q", sig, code, exitInterrupted, stderr)
		}
		if left, _ := os.ReadDir(filepath.Dir(out)); len(left) != 0 {
			t.Errorf("%v: left behind: %v", sig, left)
		}
	}
	out := filepath.Join(tmp, "nohup", "big.wim")
	must(t, os.Mkdir(filepath.Dir(out), 0o755))
	cmd := exec.Command("sh", "-c", `trap "" HUP; exec "$0" "$@"`, bin, "capture", src, out)
	must(t, cmd.Start())
	waitOpenUnder(t, cmd.Process.Pid, filepath.Dir(out))
	must(t, cmd.Process.Signal(syscall.SIGHUP))
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("a capture started with SIGHUP ignored stopped at one: %v", err)
	}
	must(t, cmd.Process.Kill())
	_ = cmd.Wait()
}

// runInterrupted runs the binary with args, sends it SIGINT once it has a
// file under dir open (so it is past its signal set-up and at work, however
// slowly a loaded machine starts it), and returns its exit code and stderr;
// it fails the test if the process has not stopped 30 s later.
func runInterrupted(t *testing.T, bin, dir string, args ...string) (code int, stderr string) {
	t.Helper()
	return runSignalled(t, exec.Command(bin, args...), syscall.SIGINT, dir)
}

// runSignalled is runInterrupted for cmd and the signal sig.
func runSignalled(t *testing.T, cmd *exec.Cmd, sig syscall.Signal, dir string) (code int, stderr string) {
	t.Helper()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitOpenUnder(t, cmd.Process.Pid, dir)
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%v: %v", sig, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("wait: %v", err)
		}
	case <-time.After(30 * time.Second):
		if err := cmd.Process.Kill(); err != nil {
			t.Errorf("kill: %v", err)
		}
		t.Fatalf("%s did not stop within 30 s of %v", cmd.Args[1], sig)
	}
	return cmd.ProcessState.ExitCode(), errb.String()
}

// waitOpenUnder waits until process pid has a file below dir open, for at
// most a minute.
func waitOpenUnder(t *testing.T, pid int, dir string) {
	t.Helper()
	fds := fmt.Sprintf("/proc/%d/fd", pid)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		entries, _ := os.ReadDir(fds)
		for _, e := range entries {
			if target, err := os.Readlink(filepath.Join(fds, e.Name())); err == nil && strings.HasPrefix(target, dir+"/") {
				return
			}
		}
	}
	t.Fatalf("process %d opened nothing under %s within a minute", pid, dir)
}
