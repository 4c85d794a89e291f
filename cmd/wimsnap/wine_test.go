//go:build unix && amd64

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// Wine runs the Windows build of wimsnap here: not Windows, but the same
// binary and the same Win32 calls, on a Wine prefix whose C: drive is a
// temporary directory and whose Z: drive is the root file system. Wine has
// no backup API (BackupRead fails with ERROR_NOT_SUPPORTED) and no named
// streams or reparse points on a UNIX file system, so these tests exercise
// the plain-call path (winplain_windows.go), the walk, security
// descriptors, attributes, times, hard links and long paths; streams,
// reparse points and short names need a real Windows run.

// prngShim is a bcryptprimitives.dll with ProcessPrng, which the Go
// runtime needs on Windows and Wine 8 lacks; it draws from RtlGenRandom.
const prngShim = `#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID, ULONG);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!SystemFunction036(data, n)) return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
`

// winePrefix is a Wine prefix with the shim, and the Windows binary.
type winePrefix struct {
	wine, exe, prefix string
	env               []string
}

// newWinePrefix makes a Wine prefix for the test and builds the Windows
// binary into it; wineserver is stopped at cleanup.
func newWinePrefix(t *testing.T) *winePrefix {
	t.Helper()
	wine := wimtest.Require(t, "wine")
	gcc := wimtest.Require(t, "x86_64-w64-mingw32-gcc")
	dir := t.TempDir()
	w := &winePrefix{wine: wine, exe: filepath.Join(dir, "wimsnap.exe"), prefix: filepath.Join(dir, "prefix")}
	// TMPDIR keeps wineserver's socket directory inside the test's.
	w.env = append(os.Environ(), "WINEPREFIX="+w.prefix, "WINEDEBUG=-all",
		"WINEDLLOVERRIDES=mscoree,mshtml=", "DISPLAY=", "TMPDIR="+dir)
	build := exec.Command("go", "build", "-o", w.exe, ".")
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows go build: %v\n%s", err, out)
	}
	killServer := func() {
		kill := exec.Command(filepath.Join(filepath.Dir(wine), "wineserver"), "-k")
		kill.Env = w.env
		_ = kill.Run()
	}
	t.Cleanup(killServer)
	// Its output stays on a pipe, whose end comes when the programs that
	// wineboot started let it go: on a file, wineboot returns in 5 s, not
	// 10, but a service created right after is then not found. On a busy
	// machine it has failed (exit 53) where a second try in a fresh prefix
	// passes.
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		boot := exec.CommandContext(ctx, wine, "wineboot", "--init")
		boot.Env = w.env
		out, err := boot.CombinedOutput()
		cancel()
		if err == nil {
			break
		}
		if try == 2 {
			t.Fatalf("wineboot: %v\n%s", err, out)
		}
		t.Logf("wineboot: %v; trying again in a fresh prefix", err)
		killServer()
		must(t, os.RemoveAll(w.prefix))
	}
	src := filepath.Join(dir, "prng.c")
	writeFile(t, dir, "prng.c", []byte(prngShim))
	dll := filepath.Join(dir, "prefix", "drive_c", "windows", "system32", "bcryptprimitives.dll")
	if out, err := exec.Command(gcc, "-shared", "-O2", "-o", dll, src, "-ladvapi32").CombinedOutput(); err != nil {
		t.Fatalf("building the ProcessPrng shim: %v\n%s", err, out)
	}
	return w
}

// winPath returns the Wine path of the UNIX path p (drive Z: is /).
func winPath(p string) string { return "Z:" + strings.ReplaceAll(p, "/", `\`) }

// run runs wimsnap.exe with args and returns its stdout and exit code;
// stderr goes to the test log.
func (w *winePrefix) run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	return w.runProgram(t, w.exe, args...)
}

// runProgram runs the Windows program prog (wimsnap.exe, or one of Wine's
// such as sc) with args, as run does.
func (w *winePrefix) runProgram(t *testing.T, prog string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.wine, append([]string{prog}, args...)...)
	cmd.Env = w.env
	// A process Wine starts for the program (a service) may inherit its
	// output: wait for that only briefly once the program has exited.
	cmd.WaitDelay = 5 * time.Second
	stderr := stderrToFile(t, cmd)
	out, err := cmd.Output()
	if msg := stderr(); len(msg) > 0 {
		t.Logf("%s %s:\n%s", filepath.Base(prog), strings.Join(args, " "), msg)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && !errors.Is(err, exec.ErrWaitDelay) {
		t.Fatalf("%s %s: %v", filepath.Base(prog), strings.Join(args, " "), err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// stderrToFile points cmd's stderr at a new file in a test directory and
// returns a function that reads what was written there. (With a pipe for
// stderr, Wine takes seconds longer to end a program: 3 s against 0.2 s
// for wimsnap.exe.)
func stderrToFile(t *testing.T, cmd *exec.Cmd) func() []byte {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	cmd.Stderr = f
	return func() []byte {
		b, _ := os.ReadFile(f.Name())
		return b
	}
}

// makeWineTree writes a tree of what Wine can show a Windows program: a
// hard-linked file with an old time, a file of several chunks, an empty
// file, a read-only file, Unicode names and a path longer than MAX_PATH.
func makeWineTree(t *testing.T, dir string) {
	t.Helper()
	writeFile(t, dir, "f1", []byte("one\n"))
	if err := os.Link(filepath.Join(dir, "f1"), filepath.Join(dir, "f1link")); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2001, 2, 3, 4, 5, 6, 123456789, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "f1"), old, old); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "big.bin", wimtest.RandomBytes(1, 3<<20))
	writeFile(t, dir, "empty", nil)
	writeFile(t, dir, "ünï cødé/日本語.txt", []byte("x\n"))
	writeFile(t, dir, "ro.txt", []byte("read-only\n"))
	if err := os.Chmod(filepath.Join(dir, "ro.txt"), 0o444); err != nil {
		t.Fatal(err)
	}
	deep := strings.Repeat(strings.Repeat("d", 60)+"/", 6) + "deepfile.txt"
	writeFile(t, dir, deep, []byte("deep\n"))
}

// TestWineCaptureApply: the Windows build captures a tree into a WIM that
// wimlib verifies and applies to the same tree, and applies it back
// itself, with times, hard links, the read-only attribute and a security
// descriptor on every entry; then it recompresses the WIM in place, splits
// it, applies the parts and joins them.
func TestWineCaptureApply(t *testing.T) {
	w := newWinePrefix(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	makeWineTree(t, src)
	wimFile := filepath.Join(dir, "x.wim")
	if _, code := w.run(t, "capture", winPath(src), winPath(wimFile)); code != 0 {
		t.Fatalf("capture: exit %d", code)
	}
	wimtest.Wimlib(t, "verify", wimFile)

	m, err := wimtest.Open(t, wimFile).Metadata(1)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]*wim.Entry{}
	var walk func(p string, e *wim.Entry)
	walk = func(p string, e *wim.Entry) {
		byPath[p] = e
		for _, c := range e.Children {
			walk(p+"/"+c.Name, c)
		}
	}
	walk("", m.Root)
	for p, e := range byPath {
		if e.SecurityID < 0 {
			t.Errorf("%s: no security descriptor", p)
		}
	}
	if e := byPath["/ro.txt"]; e == nil || e.Attributes&wim.AttrReadonly == 0 {
		t.Errorf("ro.txt: not read-only in the image: %+v", e)
	}
	if a, b := byPath["/f1"], byPath["/f1link"]; a == nil || b == nil || a.LinkID == 0 || a.LinkID != b.LinkID {
		t.Errorf("f1 and f1link are not one link group")
	}

	opts := wimtest.CompareOptions{IgnoreModes: true, IgnoreOwners: true, IgnoreXattrs: true}
	byWimlib := filepath.Join(dir, "wimlib")
	wimtest.Wimlib(t, "apply", wimFile, "1", byWimlib)
	wimtest.CompareTrees(t, src, byWimlib, opts)

	byWine := filepath.Join(dir, "wine")
	if _, code := w.run(t, "apply", winPath(wimFile), "1", winPath(byWine)); code != 0 {
		t.Fatalf("apply: exit %d", code)
	}
	wimtest.CompareTrees(t, src, byWine, opts)
	if st, err := os.Stat(filepath.Join(byWine, "ro.txt")); err != nil || st.Mode().Perm()&0o222 != 0 {
		t.Errorf("ro.txt applied writable: %v %v", st.Mode(), err)
	}
	// Applied again over the same tree, changed: its files are replaced,
	// the read-only one and the hard links too, as wimlib does.
	writeFile(t, byWine, "big.bin", []byte("changed"))
	if _, code := w.run(t, "apply", winPath(wimFile), "1", winPath(byWine)); code != 0 {
		t.Fatalf("apply over the applied tree: exit %d", code)
	}
	wimtest.CompareTrees(t, src, byWine, opts)

	// optimize renames its new WIM over the old one, which Windows refuses
	// while the old one is open.
	if _, code := w.run(t, "optimize", winPath(wimFile), "--compress", "lzx"); code != 0 {
		t.Fatalf("optimize: exit %d", code)
	}
	if c := wimtest.Open(t, wimFile).Header().Compression; c != wim.CompressLZX {
		t.Errorf("optimized WIM is %v, want LZX", c)
	}
	wimtest.Wimlib(t, "verify", wimFile)

	// Split for FAT32 media, applied from the last part (the others found
	// by their names in Windows paths), and joined again.
	swm := filepath.Join(dir, "x.swm")
	if _, code := w.run(t, "split", winPath(wimFile), winPath(swm), "1"); code != 0 {
		t.Fatalf("split: exit %d", code)
	}
	fromParts := filepath.Join(dir, "from-parts")
	if _, code := w.run(t, "apply", winPath(filepath.Join(dir, "x3.swm")), "1", winPath(fromParts)); code != 0 {
		t.Fatalf("apply from the parts: exit %d", code)
	}
	wimtest.CompareTrees(t, src, fromParts, opts)
	joined := filepath.Join(dir, "joined.wim")
	if _, code := w.run(t, "optimize", winPath(swm), "--output", winPath(joined)); code != 0 {
		t.Fatalf("optimize --output of the parts: exit %d", code)
	}
	wimtest.Wimlib(t, "verify", joined)

	// A volume's root, drive Q: mapped to src, names its image "Q:", as
	// wimlib-imagex does, not after the path separator Go's Base gives.
	if err := os.Symlink(src, filepath.Join(w.prefix, "dosdevices", "q:")); err != nil {
		t.Fatal(err)
	}
	volWim := filepath.Join(dir, "volume.wim")
	if _, code := w.run(t, "capture", `Q:\`, winPath(volWim)); code != 0 {
		t.Fatalf("capture Q:\\: exit %d", code)
	}
	if name := wimtest.Open(t, volWim).Image(1).Name; name != "Q:" {
		t.Errorf("capture Q:\\ named its image %q, want \"Q:\"", name)
	}
	// A WimScript.ini's exclusions, decided for each directory from its
	// parent's (deep trees with many patterns took minutes).
	cfgSrc, cfgWim, ini := filepath.Join(dir, "cfgsrc"), filepath.Join(dir, "cfg.wim"), filepath.Join(dir, "w.ini")
	for _, f := range []string{"a/b/c/x.tmp", "a/b/c/y.txt", "a/skip/z.txt", "a/skip/keep.txt"} {
		writeFile(t, cfgSrc, f, []byte(f))
	}
	must(t, os.WriteFile(ini, []byte("[ExclusionList]\r\n*.tmp\r\n\\a\\skip\r\n[ExclusionException]\r\n\\a\\skip\\keep.txt\r\n"), 0o644))
	if _, code := w.run(t, "capture", winPath(cfgSrc), winPath(cfgWim), "--config", winPath(ini)); code != 0 {
		t.Fatalf("capture --config: exit %d", code)
	}
	var paths []string
	cm, err := wimtest.Open(t, cfgWim).Metadata(1)
	if err != nil {
		t.Fatal(err)
	}
	walk = func(p string, e *wim.Entry) {
		if len(e.Children) == 0 {
			paths = append(paths, p)
		}
		for _, c := range e.Children {
			walk(p+"/"+c.Name, c)
		}
	}
	walk("", cm.Root)
	slices.Sort(paths)
	if want := []string{"/a/b/c/y.txt", "/a/skip/keep.txt"}; !slices.Equal(paths, want) {
		t.Errorf("capture --config: %q, want %q", paths, want)
	}
}

// TestWineSnapshotRestore: the Windows build snapshots a tree into a local
// repository twice (the second run reads only the changed file) and
// restores the latest snapshot, which check then finds sound; then it
// rolls a changed copy back in place (restore --delete, after a dry run
// that counts the same and writes nothing) and again.
func TestWineSnapshotRestore(t *testing.T) {
	w := newWinePrefix(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	makeWineTree(t, src)
	repo := winPath(filepath.Join(dir, "repo"))
	w.env = append(w.env, "WIMSNAP_CACHE_DIR="+winPath(filepath.Join(dir, "cache")))
	if out, code := w.run(t, "init", "--repo", repo); code != 0 {
		t.Fatalf("init: exit %d\n%s", code, out)
	}
	out, code := w.run(t, "snapshot", "--json", "--repo", repo, winPath(src))
	if code != 0 {
		t.Fatalf("first snapshot: exit %d\n%s", code, out)
	}
	writeFile(t, src, "big.bin", wimtest.RandomBytes(2, 3<<20))
	out, code = w.run(t, "snapshot", "--json", "--repo", repo, winPath(src))
	if code != 0 {
		t.Fatalf("second snapshot: exit %d\n%s", code, out)
	}
	var sum struct {
		FilesRead int `json:"files_read"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("second snapshot's summary: %v\n%s", err, out)
	}
	if sum.FilesRead != 1 {
		t.Errorf("second snapshot read %d files, want 1 (big.bin)", sum.FilesRead)
	}
	target := filepath.Join(dir, "restored")
	if out, code := w.run(t, "restore", "--repo", repo, "latest", "--target", winPath(target)); code != 0 {
		t.Fatalf("restore: exit %d\n%s", code, out)
	}
	opts := wimtest.CompareOptions{IgnoreModes: true, IgnoreOwners: true, IgnoreXattrs: true}
	wimtest.CompareTrees(t, src, target, opts)
	if out, code := w.run(t, "check", "--read-data", "--repo", repo); code != 0 {
		t.Errorf("check: exit %d\n%s", code, out)
	}

	// A rollback: the restored tree changed, then restored in place.
	writeFile(t, target, "big.bin", wimtest.RandomBytes(3, 3<<20)) // same size, new contents and time
	writeFile(t, target, "f1", []byte("changed, longer\n"))        // f1link is the same file
	ro := filepath.Join(target, "ro.txt")
	if err := os.Chmod(ro, 0o644); err != nil {
		t.Fatal(err)
	}
	writeFile(t, target, "ro.txt", []byte("changed\n"))
	if err := os.Chmod(ro, 0o444); err != nil { // read-only again: replaced all the same
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(target, "empty")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, target, "extra.txt", []byte("not in the snapshot\n"))
	writeFile(t, target, "extradir/sub/x.txt", []byte("not in the snapshot\n"))
	if err := os.RemoveAll(filepath.Join(target, "ünï cødé")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, target, "ünï cødé", []byte("a file where the snapshot has a directory\n"))
	writeFile(t, target, ".wimsnap-0123456789ab-7.tmp", []byte("left by an interrupted run\n"))
	type restored struct {
		Files, Bytes, Unchanged, Deleted int64
	}
	rollback := func(flags ...string) restored {
		t.Helper()
		args := append([]string{"restore", "--json", "--delete", "--repo", repo, "latest", "--target", winPath(target)}, flags...)
		out, code := w.run(t, args...)
		var r restored
		if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil {
			t.Fatalf("restore --delete %v: exit %d, %v\n%s", flags, code, err, out)
		}
		t.Logf("restore --delete %v: %+v", flags, r)
		return r
	}
	missing := filepath.Join(dir, "not-made")
	out, code = w.run(t, "restore", "--json", "--dry-run", "--repo", repo, "latest", "--target", winPath(missing))
	var fresh restored
	if err := json.Unmarshal([]byte(out), &fresh); code != 0 || err != nil || fresh.Files != 7 || fresh.Bytes != 3<<20+21 {
		t.Errorf("a dry run into a missing directory: exit %d, %v, %+v, want 7 files of %d bytes", code, err, fresh, 3<<20+21)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("a dry run made its target")
	}
	plan := rollback("--dry-run")
	for _, p := range []string{"extra.txt", ".wimsnap-0123456789ab-7.tmp", "ünï cødé"} {
		if _, err := os.Stat(filepath.Join(target, p)); err != nil {
			t.Errorf("the dry run removed %s: %v", p, err)
		}
	}
	r := rollback()
	if plan != r {
		t.Errorf("the dry run counted %+v, the rollback did %+v", plan, r)
	}
	wimtest.CompareTrees(t, src, target, opts)
	// Kept: the deep file; written: big.bin, f1 (and f1link, a name of
	// it), ro.txt, empty, 日本語.txt; deleted: extra.txt and extradir with
	// the two entries below it, and the file in the place of 日本語.txt's
	// directory, each counted as on UNIX.
	if r.Unchanged != 1 || r.Deleted != 5 || r.Bytes != 3<<20+4+10+2 {
		t.Errorf("rollback: %+v, want 1 unchanged, 5 deleted, %d bytes written", r, 3<<20+4+10+2)
	}
	if r = rollback(); r.Bytes != 0 || r.Unchanged != r.Files || r.Deleted != 0 {
		t.Errorf("a second rollback: %+v, want every file unchanged", r)
	}
	wimtest.CompareTrees(t, src, target, opts)

	// Without --delete, extras stay, and a directory in a file's place is
	// left with a warning (exit 3, partial).
	if err := os.Remove(filepath.Join(target, "empty")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, target, "empty/inside.txt", []byte("a directory where the snapshot has a file\n"))
	writeFile(t, target, "extra.txt", []byte("not in the snapshot\n"))
	if out, code := w.run(t, "restore", "--repo", repo, "latest", "--target", winPath(target)); code != exitPartial {
		t.Errorf("restore over a directory in a file's place: exit %d, want %d\n%s", code, exitPartial, out)
	}
	for _, p := range []string{"empty/inside.txt", "extra.txt"} {
		if _, err := os.Stat(filepath.Join(target, p)); err != nil {
			t.Errorf("restore without --delete removed %s: %v", p, err)
		}
	}
	rollback()
	wimtest.CompareTrees(t, src, target, opts)

	// Without --repo, the default repository is made in %LOCALAPPDATA%.
	if out, code := w.run(t, "snapshot", winPath(src)); code != 0 {
		t.Fatalf("snapshot into the default repository: exit %d\n%s", code, out)
	}
	if m, _ := filepath.Glob(filepath.Join(w.prefix, "drive_c", "users", "*", "AppData", "Local", "wimsnap", "repository", "config")); len(m) != 1 {
		t.Errorf("no default repository under %%LOCALAPPDATA%%\\wimsnap\\repository: %v", m)
	}
}

// agentSetup makes, in dir, a source with one file, a repository and an
// agent config with one job called name, taken every 2 s, followed by
// extra lines, and returns the config's path. The index cache is in dir.
func (w *winePrefix) agentSetup(t *testing.T, dir, name, extra string) string {
	t.Helper()
	writeFile(t, dir, "src/a.txt", []byte("a\n"))
	w.env = append(w.env, "WIMSNAP_CACHE_DIR="+winPath(filepath.Join(dir, "cache")))
	if out, code := w.run(t, "init", "--repo", winPath(filepath.Join(dir, "repo"))); code != 0 {
		t.Fatalf("init: exit %d\n%s", code, out)
	}
	return writeConfig(t, dir, fmt.Sprintf(`
repository = '%s'
state-file = '%s'
[status]
listen = "127.0.0.1:0"
[[job]]
name = "%s"
sources = ['%s']
schedule = "@every 2s"
%s`, winPath(filepath.Join(dir, "repo")), winPath(filepath.Join(dir, "state.json")), name,
		winPath(filepath.Join(dir, "src")), extra))
}

// TestWineAgent: the Windows build's agent takes a job on its schedule,
// runs its pre hook through cmd.exe (with the job's variables, quotes and
// an '&' kept), applies the retention, serves /status, and stops cleanly
// on Ctrl+C (Wine turns SIGINT into the console's Ctrl+C).
func TestWineAgent(t *testing.T) {
	w := newWinePrefix(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "pre.txt")
	config := w.agentSetup(t, dir, "win", fmt.Sprintf(`[job.retention]
keep-last = 2
[job.hooks]
pre = 'echo pre %%WIMSNAP_JOB%% "a & b"> %s'
`, winPath(marker)))
	cmd := exec.Command(w.wine, w.exe, "agent", "--config", winPath(config))
	cmd.Env = w.env
	p := startAgentCmd(t, cmd, filepath.Join(dir, "agent.log"))
	p.waitFor(t, 60*time.Second, "three successful runs", func() bool { return p.count(runsOf("win", "success")) >= 3 })
	if got, err := os.ReadFile(marker); err != nil || strings.TrimSpace(string(got)) != `pre win "a & b"` {
		t.Errorf("the pre hook wrote %q (%v), want %q", got, err, `pre win "a & b"`)
	}
	if j := p.status(t).job(t, "win"); j.LastResult != "success" {
		t.Errorf("/status: last result %q", j.LastResult)
	}
	if code, took := p.stop(t, syscall.SIGINT); code != 0 {
		t.Errorf("exit %d after Ctrl+C (%s); the log:\n%s", code, took, p.log())
	}
	if p.find(func(l map[string]any) bool { return l["msg"] == "stopped" }) == nil {
		t.Errorf("no \"stopped\" line; the log:\n%s", p.log())
	}
	manifests, err := os.ReadDir(filepath.Join(dir, "repo", "snapshots"))
	if err != nil || len(manifests) != 2 {
		t.Errorf("%d snapshots kept (%v), want 2 (keep-last)", len(manifests), err)
	}
}

// TestWineService: the agent runs as a Windows service. The service
// control manager starts it (sc create, net start), it logs to its
// --log-file and takes its job, and net stop ends it cleanly.
func TestWineService(t *testing.T) {
	w := newWinePrefix(t)
	dir := t.TempDir()
	config := w.agentSetup(t, dir, "svc", "")
	logFile := filepath.Join(dir, "agent.log")

	// Wine ends its services when the last other Windows process exits:
	// a command prompt waiting on its input keeps one.
	keep := exec.Command(w.wine, "cmd")
	keep.Env = w.env
	stdin, err := keep.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := keep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close(); _ = keep.Wait() })

	bin := fmt.Sprintf("%s agent --service --config %s --log-file %s", winPath(w.exe), winPath(config), winPath(logFile))
	if out, code := w.runProgram(t, "sc", "create", "wimsnap-agent", "binPath=", bin); code != 0 {
		t.Fatalf("sc create: exit %d\n%s", code, out)
	}
	if out, code := w.runProgram(t, "net", "start", "wimsnap-agent"); code != 0 {
		t.Fatalf("net start: exit %d\n%s", code, out)
	}
	logged := func(msg string, n int) bool {
		b, _ := os.ReadFile(logFile)
		return strings.Count(string(b), `"msg":"`+msg+`"`) >= n
	}
	deadline := time.Now().Add(60 * time.Second)
	for !logged("run finished", 2) {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logFile)
			t.Fatalf("no two runs within 60 s; the log:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, code := w.runProgram(t, "net", "stop", "wimsnap-agent"); code != 0 {
		t.Fatalf("net stop: exit %d\n%s", code, out)
	}
	if !logged("stopped", 1) {
		b, _ := os.ReadFile(logFile)
		t.Errorf("no \"stopped\" line after net stop; the log:\n%s", b)
	}

	// A config that does not load stops the service with exit code 2 and
	// the reason in the log.
	bad := filepath.Join(dir, "bad.toml")
	writeFile(t, dir, "bad.toml", []byte("jobs = [\n"))
	badLog := filepath.Join(dir, "bad.log")
	bin = fmt.Sprintf("%s agent --service --config %s --log-file %s", winPath(w.exe), winPath(bad), winPath(badLog))
	if out, code := w.runProgram(t, "sc", "create", "wimsnap-bad", "binPath=", bin); code != 0 {
		t.Fatalf("sc create: exit %d\n%s", code, out)
	}
	w.runProgram(t, "net", "start", "wimsnap-bad")
	var query string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if query, _ = w.runProgram(t, "sc", "query", "wimsnap-bad"); strings.Contains(query, "STOPPED") {
			break
		}
	}
	if !regexp.MustCompile(`SERVICE_EXIT_CODE\s*:\s*2\b`).MatchString(query) {
		t.Errorf("the service with a broken config: want exit code 2, sc query says\n%s", query)
	}
	if b, _ := os.ReadFile(badLog); !strings.Contains(string(b), "bad.toml") {
		t.Errorf("the broken config's log does not name it:\n%s", b)
	}
}

// TestWineRollbackKeepsRepository: on Windows too, a rollback of a tree
// that holds the repository and the index cache (a user's profile with
// %LOCALAPPDATA%) keeps both, though the snapshot leaves them out.
func TestWineRollbackKeepsRepository(t *testing.T) {
	w := newWinePrefix(t)
	tree := filepath.Join(t.TempDir(), "tree")
	writeFile(t, tree, "f.txt", []byte("tree file\n"))
	repo := winPath(filepath.Join(tree, "AppData", "repo"))
	w.env = append(w.env, "WIMSNAP_CACHE_DIR="+winPath(filepath.Join(tree, "AppData", "index")))
	for _, args := range [][]string{
		{"init", "--repo", repo},
		{"snapshot", "--repo", repo, winPath(tree)},
		{"restore", "--delete", "--repo", repo, "latest", "--target", winPath(tree)},
		{"snapshots", "--repo", repo},
	} {
		if out, code := w.run(t, args...); code != 0 {
			t.Fatalf("%s: exit %d\n%s", args[0], code, out)
		}
	}
	if _, err := os.Stat(filepath.Join(tree, "AppData", "repo", "config")); err != nil {
		t.Errorf("the repository is gone: %v", err)
	}
}

// TestWineExtractOverFilesFullDisk: the Windows build extracts eight
// 300 KiB files of an image onto files of those names in a 1 MiB tmpfs:
// the disk fills, and every name still holds either its old contents or
// the image's (it removed a file before writing its replacement), and no
// temporary file is left; with room, the same extract replaces them all.
func TestWineExtractOverFilesFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	w := newWinePrefix(t)
	src, wimfile, target, files := fullExtract(t, "wimsnap-wine-extract", 30)
	args := append([]string{"extract", winPath(wimfile), "1", "--dest-dir", winPath(target)}, files...)
	// The full disk ends the run (exit 1), as on Linux, where each file
	// left was warned about and skipped (exit 3).
	if out, code := w.run(t, args...); code != exitFailure {
		t.Fatalf("extract onto a full disk: exit %d, want %d\n%s", code, exitFailure, out)
	}
	wantOldOrNew(t, target, src)
	must(t, unix.Mount("wimsnap-wine-extract", target, "tmpfs", unix.MS_REMOUNT, "size=16m"))
	if out, code := w.run(t, args...); code != exitOK {
		t.Fatalf("extract with room: exit %d\n%s", code, out)
	}
	wantImageFiles(t, src, target, fullExtractFiles, "the second extract")
}

// TestWineRollbackDirInWayFullDisk: where the snapshot has a file and the
// tree a directory, the Windows build's rollback writes the file under a
// temporary name before it touches the directory, and swaps it in only
// then: with the disk full, the directory stays whole (it was removed
// first, and then the file could not be written: both were lost), and
// the next rollback, with room, puts the file in its place.
func TestWineRollbackDirInWayFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	w := newWinePrefix(t)
	dir := t.TempDir()
	data := wimtest.RandomBytes(5, 600<<10)
	writeFile(t, filepath.Join(dir, "src"), "f", data)
	repo := winPath(filepath.Join(dir, "repo"))
	w.env = append(w.env, "WIMSNAP_CACHE_DIR="+winPath(filepath.Join(dir, "cache")))
	for _, args := range [][]string{{"init", "--repo", repo}, {"snapshot", "--repo", repo, winPath(filepath.Join(dir, "src"))}} {
		if out, code := w.run(t, args...); code != 0 {
			t.Fatalf("%s: exit %d\n%s", args[0], code, out)
		}
	}
	disk := filepath.Join(dir, "disk")
	mountSmall(t, "wimsnap-wine-rollback", disk)
	target := filepath.Join(disk, "target")
	inside := []byte("in the directory in the way\n")
	writeFile(t, target, "f/inside.txt", inside)
	filler := filepath.Join(disk, "filler") // outside the target: no rollback deletes it
	writeFile(t, disk, "filler", wimtest.RandomBytes(6, 600<<10))
	rollback := []string{"restore", "--delete", "--repo", repo, "latest", "--target", winPath(target)}
	if out, code := w.run(t, rollback...); code == exitOK {
		t.Fatalf("rollback onto a full disk: exit 0\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(target, "f", "inside.txt")); err != nil || !bytes.Equal(b, inside) {
		t.Errorf("the directory in the file's place after a rollback that could not write the file: %q, %v", b, err)
	}
	must(t, os.Remove(filler))
	if out, code := w.run(t, rollback...); code != exitOK {
		t.Fatalf("rollback with room: exit %d\n%s", code, out)
	}
	if b, err := os.ReadFile(filepath.Join(target, "f")); err != nil || !bytes.Equal(b, data) {
		t.Errorf("f after the rollback with room: %d bytes, %v; want the snapshot's", len(b), err)
	}
	if ents, _ := os.ReadDir(target); len(ents) != 1 {
		t.Errorf("%d names in the target, want f alone (no temporary name left)", len(ents))
	}
}

// TestWineCaseClash: a Linux image whose directories hold names that
// Windows takes for one (File and file; a directory X and a file x), or
// cannot make (a control character), applies on Windows with the first of
// each clash kept, the others warned about and skipped (exit 3), as
// wimlib-imagex does there. The apply wrote the second over the first,
// file or directory, with exit 0; restore --delete into a new directory
// then deleted what the first directory held; extract of two such paths
// kept the second; a dry run into a directory not yet there said nothing.
func TestWineCaseClash(t *testing.T) {
	w := newWinePrefix(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "case/File", []byte("upper"))
	writeFile(t, src, "case/file", []byte("lower"))
	writeFile(t, src, "X/in", []byte("in X"))
	writeFile(t, src, "x", []byte("file x"))
	writeFile(t, src, "tab\tname", []byte("tab"))
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache"),
		"HOME": filepath.Join(dir, "home")}
	wimFile := filepath.Join(dir, "c.wim")
	runAppOK(t, env, "capture", src, wimFile)
	runAppOK(t, env, "init")
	runAppOK(t, env, "snapshot", src)
	w.env = append(w.env, "WIMSNAP_CACHE_DIR="+winPath(filepath.Join(dir, "wcache")))
	repo := winPath(env[envRepository])
	const skipped = 3 // case/file, x, tab\tname
	for _, c := range []struct {
		name string
		args []string
	}{
		{"apply", []string{"apply", winPath(wimFile), winPath(filepath.Join(dir, "apply"))}},
		{"restore", []string{"restore", "--delete", "--repo", repo, "latest", "--target", winPath(filepath.Join(dir, "restore"))}},
		{"dry-run", []string{"restore", "--dry-run", "--repo", repo, "latest", "--target", winPath(filepath.Join(dir, "dry"))}},
	} {
		out, code := w.run(t, append(c.args, "--json")...)
		var sum struct {
			Skipped  int
			Warnings []struct{ Path, Error string }
		}
		if err := json.Unmarshal([]byte(out), &sum); err != nil || code != exitPartial || sum.Skipped != skipped {
			t.Errorf("%s: exit %d, %+v (%v); want %d and %d skipped", c.name, code, sum, err, exitPartial, skipped)
		}
		for _, w := range sum.Warnings { // by the directory's path, the name quoted: joined, a name reads as a path
			if strings.Contains(w.Path, "\t") || strings.HasSuffix(w.Path, `\file`) {
				t.Errorf("%s: warning about %s (%s): the refused name joined to its directory", c.name, w.Path, w.Error)
			}
		}
		if c.name == "dry-run" {
			continue
		}
		target := filepath.Join(dir, c.name)
		for name, want := range map[string]string{"case/File": "upper", "X/in": "in X"} {
			if got, err := os.ReadFile(filepath.Join(target, name)); err != nil || string(got) != want {
				t.Errorf("%s: %s holds %q (%v), want %q", c.name, name, got, err, want)
			}
		}
	}
	out, code := w.run(t, "extract", winPath(wimFile), "1", "/case/File", "/case/file", "--dest-dir", winPath(filepath.Join(dir, "ex")))
	if got, err := os.ReadFile(filepath.Join(dir, "ex", "File")); code != exitPartial || err != nil || string(got) != "upper" {
		t.Errorf("extract: exit %d, File holds %q (%v); want %d and %q\n%s", code, got, err, exitPartial, "upper", out)
	}
}

// TestWineAgentRootPath: in an agent config on Windows, a path from the
// root without a drive (\Backups\repo) is on the config file's drive, as
// the command line takes it on the current drive; it was joined to the
// config file's directory.
func TestWineAgentRootPath(t *testing.T) {
	w := newWinePrefix(t)
	dir := t.TempDir()
	root := strings.TrimPrefix(winPath(filepath.Join(dir, "Backups", "repo")), "Z:") // \tmp\...\Backups\repo
	config := writeConfig(t, dir, fmt.Sprintf(`repository = '%s'
state-file = 'state.json'
[status]
listen = "off"
[[job]]
name = "root"
sources = ['src']
schedule = "@daily"
`, root))
	out, code := w.run(t, "agent", "--config", winPath(config), "--check-config", "--json")
	var plan struct {
		Jobs []struct{ Commands [][]string }
	}
	if err := json.Unmarshal([]byte(out), &plan); code != 0 || err != nil || len(plan.Jobs) != 1 ||
		len(plan.Jobs[0].Commands) == 0 || !slices.Contains(plan.Jobs[0].Commands[0], "--repo=Z:"+root) {
		t.Errorf("--check-config: exit %d, %v; want a command with --repo=Z:%s\n%s", code, err, root, out)
	}
}

// TestWineRestoreTargets: the Windows build's restore into a drive or a
// share that is not there fails at once (it spun for ever looking for an
// existing ancestor of the target), and its --include and --exclude ignore
// case, as Windows names do: a rollback with --delete deleted the paths
// excluded in another case, and --include '/sub' selected nothing of /Sub.
func TestWineRestoreTargets(t *testing.T) {
	w := newWinePrefix(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	writeFile(t, src, "Report.txt", []byte("r\n"))
	writeFile(t, src, "Sub/In.txt", []byte("i\n"))
	repo := winPath(filepath.Join(tmp, "repo"))
	for _, args := range [][]string{{"init", "--repo", repo}, {"snapshot", "--repo", repo, winPath(src)}} {
		if out, code := w.run(t, args...); code != exitOK {
			t.Fatalf("%s: exit %d\n%s", args[0], code, out)
		}
	}
	for _, target := range []string{`Q:\x\y`, `\\nohost\share\x`} {
		for _, dry := range []string{"--dry-run=false", "--dry-run"} {
			if out, code := w.run(t, "restore", "--repo", repo, "latest", "--target", target, dry); code != exitFailure {
				t.Errorf("restore %s %s: exit %d, want %d\n%s", target, dry, code, exitFailure, out)
			}
		}
	}
	writeFile(t, src, "Data/k", []byte("keep\n"))
	writeFile(t, src, "Notes.TXT", []byte("keep\n"))
	if out, code := w.run(t, "restore", "--repo", repo, "latest", "--target", winPath(src), "--delete",
		"--exclude", "/data", "--exclude", "*.txt"); code != exitOK {
		t.Fatalf("rollback: exit %d\n%s", code, out)
	}
	for _, p := range []string{"Data/k", "Notes.TXT"} {
		if _, err := os.Stat(filepath.Join(src, p)); err != nil {
			t.Errorf("excluded in another case, deleted: %v", err)
		}
	}
	must(t, os.Remove(filepath.Join(src, "Sub", "In.txt")))
	if out, code := w.run(t, "restore", "--repo", repo, "latest", "--target", winPath(src), "--include", "/sub"); code != exitOK {
		t.Fatalf("restore --include /sub: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(src, "Sub", "In.txt")); err != nil {
		t.Errorf("--include /sub did not select /Sub: %v", err)
	}
	// Names found in another case get the snapshot's: they kept their
	// own, and a snapshot of the tree then differed.
	must(t, os.Rename(filepath.Join(src, "Report.txt"), filepath.Join(src, "report.txt")))
	must(t, os.Rename(filepath.Join(src, "Sub"), filepath.Join(src, "SUB")))
	if out, code := w.run(t, "restore", "--repo", repo, "latest", "--target", winPath(src)); code != exitOK {
		t.Fatalf("rollback over names in another case: exit %d\n%s", code, out)
	}
	for _, p := range []string{"Report.txt", "Sub", "Sub/In.txt"} {
		if _, err := os.Lstat(filepath.Join(src, p)); err != nil {
			t.Errorf("not renamed to the snapshot's case: %v", err)
		}
	}
}

// TestWineRollbackDirWhereFile: a rollback on Windows that puts a
// directory where the target has a file counts the file as deleted, and
// so does its dry run, as on Linux: both said nothing was deleted.
func TestWineRollbackDirWhereFile(t *testing.T) {
	w := newWinePrefix(t)
	dir := t.TempDir()
	src, target := filepath.Join(dir, "src"), filepath.Join(dir, "target")
	writeFile(t, src, "a/f", []byte("f"))
	repo := winPath(filepath.Join(dir, "repo"))
	w.env = append(w.env, "WIMSNAP_CACHE_DIR="+winPath(filepath.Join(dir, "cache")))
	for _, args := range [][]string{
		{"init", "--repo", repo},
		{"snapshot", "--repo", repo, winPath(src)},
		{"restore", "--repo", repo, "latest", "--target", winPath(target)},
	} {
		if out, code := w.run(t, args...); code != 0 {
			t.Fatalf("%s: exit %d\n%s", args[0], code, out)
		}
	}
	must(t, os.RemoveAll(filepath.Join(target, "a")))
	writeFile(t, target, "a", []byte("the user's"))
	var deleted [2]int
	for i, extra := range []string{"--dry-run", "--json"} {
		out, code := w.run(t, "restore", "--delete", "--repo", repo, "latest", "--target", winPath(target), "--json", extra)
		var sum struct{ Deleted int }
		if err := json.Unmarshal([]byte(out), &sum); err != nil || code != 0 {
			t.Fatalf("restore %s: exit %d (%v)\n%s", extra, code, err, out)
		}
		deleted[i] = sum.Deleted
	}
	if deleted != [2]int{1, 1} {
		t.Errorf("deleted: dry run %d, rollback %d; want 1 and 1", deleted[0], deleted[1])
	}
	if got, err := os.ReadFile(filepath.Join(target, "a", "f")); err != nil || string(got) != "f" {
		t.Errorf("a/f after the rollback: %q, %v", got, err)
	}
}
