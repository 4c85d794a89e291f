//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestOracleOptimize turns wimlib's solid LZX WIM (with a boot index and
// two images) into XPRESS and then LZX with the binary: each result passes
// wimlib's verify, keeps the images, boot index, GUID and modification
// times, and applies with wimlib to the source tree.
func TestOracleOptimize(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	bin := buildBinary(t)
	tmp := t.TempDir()
	src, wimfile := filepath.Join(tmp, "src"), filepath.Join(tmp, "o.wim")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	wimtest.Wimlib(t, "capture", src, wimfile, "one", "--unix-data", "--compress=lzx", "--solid", "--solid-compress=lzx")
	wimtest.Wimlib(t, "append", src+"/data", wimfile, "two", "--unix-data", "--solid", "--solid-compress=lzx", "--boot")
	orig := wimtest.Open(t, wimfile)
	for _, c := range []string{"xpress", "lzx"} {
		res := mustRun(t, bin, 0, "optimize", wimfile, "--compress="+c, "--json")
		var sum optimizeSummary
		if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil {
			t.Fatal(err)
		}
		if sum.Compression != c || sum.Images != 2 || sum.NewBytes == 0 {
			t.Fatalf("summary %+v", sum)
		}
		wimtest.Wimlib(t, "verify", wimfile)
		r := wimtest.Open(t, wimfile)
		if h := r.Header(); h.Compression.String() != c || h.BootIndex != 2 || r.Image(1).Name != "one" || r.Image(2).Name != "two" {
			t.Fatalf("%s: header %+v, images %+v", c, h, r.Images())
		}
		// As wimlib-imagex optimize keeps them (a new GUID and the time of
		// the optimize before).
		if r.Header().GUID != orig.Header().GUID || r.Image(1).ModificationTime != orig.Image(1).ModificationTime ||
			r.Image(2).ModificationTime != orig.Image(2).ModificationTime {
			t.Errorf("%s: GUID or modification times changed: %+v, %+v; were %+v, %+v", c, r.Header(), r.Images(),
				orig.Header(), orig.Images())
		}
		out := filepath.Join(tmp, "apply-"+c)
		wimtest.Wimlib(t, "apply", wimfile, "1", out, "--unix-data")
		wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
	}
	// No temporary file is left beside the WIM.
	if ents, _ := os.ReadDir(tmp); len(ents) != 4 {
		t.Errorf("directory holds %d entries, want src, o.wim and two applied trees", len(ents))
	}
	// A codec it does not know is a usage error, and the WIM is untouched.
	before, _ := os.ReadFile(wimfile)
	res := mustRun(t, bin, exitUsage, "optimize", wimfile, "--compress=bogus")
	if after, _ := os.ReadFile(wimfile); string(after) != string(before) {
		t.Error("a failed optimize changed the WIM")
	}
	t.Logf("bogus: %s", res.stderr)

	// --output with --image exports one image, as wimlib-imagex export
	// picks one edition of an install.esd: the boot image keeps its mark
	// under its new index, and the source is untouched.
	picked := filepath.Join(tmp, "picked.wim")
	res = mustRun(t, bin, 0, "optimize", wimfile, "--output", picked, "--image", "two", "--json")
	var sum optimizeSummary
	if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Images != 1 || sum.Output != picked || sum.WIM != wimfile {
		t.Errorf("summary %+v", sum)
	}
	if after, _ := os.ReadFile(wimfile); string(after) != string(before) {
		t.Error("optimize --output changed its source")
	}
	wimtest.Wimlib(t, "verify", picked)
	r := wimtest.Open(t, picked)
	if h := r.Header(); h.ImageCount != 1 || h.BootIndex != 1 || r.Image(1).Name != "two" ||
		r.Image(1).ModificationTime != orig.Image(2).ModificationTime {
		t.Errorf("picked: header %+v, images %+v (modification time was %v)", h, r.Images(), orig.Image(2).ModificationTime)
	}
	out := filepath.Join(tmp, "apply-picked")
	wimtest.Wimlib(t, "apply", picked, "1", out, "--unix-data")
	wimtest.CompareTrees(t, filepath.Join(src, "data"), out, wimtest.CompareOptions{})
	mustRun(t, bin, exitUsage, "optimize", wimfile, "--image", "1")
	mustRun(t, bin, exitUsage, "optimize", wimfile, "--output", picked, "--image", "1", "--image", "one")
}

// TestOptimizeOutputExists: optimize --output refuses a NEWFILE that
// exists (exit 2, the file untouched) unless --force is given, and refuses
// WIMFILE itself, under its name or a symbolic link's, even with --force.
func TestOptimizeOutputExists(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "a.txt", []byte("hello"))
	a, b := filepath.Join(dir, "a.wim"), filepath.Join(dir, "b.wim")
	runAppOK(t, nil, "capture", src, a, "--name=first")
	runAppOK(t, nil, "capture", src, b, "--name=other")
	must(t, os.Symlink("a.wim", filepath.Join(dir, "link.wim")))
	before, err := os.ReadFile(b)
	must(t, err)
	for _, args := range [][]string{
		{"optimize", a, "--output=" + b},
		{"optimize", a, "--output=" + a, "--force"},
		{"optimize", a, "--output=" + filepath.Join(dir, "link.wim"), "--force", "--image=1"},
		{"optimize", a, "--force"},
	} {
		if code, _, errb := runApp(t, nil, args...); code != exitUsage {
			t.Errorf("wimsnap %s: exit %d, want %d: %s", strings.Join(args, " "), code, exitUsage, errb)
		}
	}
	if after, err := os.ReadFile(b); err != nil || !bytes.Equal(after, before) {
		t.Fatalf("a refused optimize changed %s (err %v)", b, err)
	}
	runAppOK(t, nil, "optimize", a, "--output="+b, "--force")
	if r := wimtest.Open(t, b); r.ImageCount() != 1 || r.Image(1).Name != "first" {
		t.Errorf("--force: %s holds %+v, want a.wim's image", b, r.Images())
	}
}

// TestOptimizeInterrupt sends SIGINT during a long optimize: exit 130 soon
// after, the WIM unchanged and no temporary file left beside it.
func TestOptimizeInterrupt(t *testing.T) {
	bin := buildBinary(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	// 2 GiB of zeros: a small XPRESS WIM that takes far longer to turn
	// into LZX than the test waits.
	wimtest.SparseFile(t, filepath.Join(src, "zeros"), 2<<30)
	dir := filepath.Join(tmp, "out")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	wimfile := filepath.Join(dir, "z.wim")
	mustRun(t, bin, 0, "capture", src, wimfile)
	before, err := os.ReadFile(wimfile)
	if err != nil {
		t.Fatal(err)
	}
	if code, stderr := runInterrupted(t, bin, dir, "optimize", wimfile, "--compress=lzx"); code != exitInterrupted {
		t.Errorf("exit %d, want %d; stderr %q", code, exitInterrupted, stderr)
	}
	if after, err := os.ReadFile(wimfile); err != nil || !bytes.Equal(after, before) {
		t.Errorf("the WIM changed (err %v)", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 1 {
		t.Errorf("directory holds %v, want only z.wim", left)
	}
}

// TestOracleOptimizeESD: an edition picked out of an ESD-style WIM (wimlib's
// --solid LZMS) without --compress comes out in LZX, as export-image makes
// it, which wimlib verifies and applies.
func TestOracleOptimizeESD(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	bin := buildBinary(t)
	tmp := t.TempDir()
	src, esd, picked := filepath.Join(tmp, "src"), filepath.Join(tmp, "install.esd"), filepath.Join(tmp, "one.wim")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	wimtest.Wimlib(t, "capture", src+"/data", esd, "data", "--unix-data", "--solid")
	wimtest.Wimlib(t, "append", src, esd, "all", "--unix-data", "--solid")
	res := mustRun(t, bin, 0, "optimize", esd, "--output", picked, "--image", "all", "--json")
	var sum optimizeSummary
	if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Compression != "lzx" || sum.Images != 1 {
		t.Errorf("summary %+v, want one image in lzx", sum)
	}
	wimtest.Wimlib(t, "verify", picked)
	out := filepath.Join(tmp, "applied")
	wimtest.Wimlib(t, "apply", picked, "1", out, "--unix-data")
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
}

// TestOptimizeEmpty: a WIM of no images, as delete of every image leaves
// it, is optimized in place and into --output as wimlib-imagex optimizes
// it, rather than refused for adding no image.
func TestOptimizeEmpty(t *testing.T) {
	tmp := t.TempDir()
	w := twoImageWIM(t, tmp)
	runAppOK(t, nil, "delete", w, "all")
	runAppOK(t, nil, "optimize", w)
	out := filepath.Join(tmp, "out.wim")
	runAppOK(t, nil, "optimize", w, "--output", out, "--compress=none")
	for _, name := range []string{w, out} {
		f, r, err := openWIM(name)
		if err != nil {
			t.Fatal(err)
		}
		if n := r.ImageCount(); n != 0 {
			t.Errorf("%s: %d images, want 0", name, n)
		}
		closeRead(f)
	}
}

// TestOptimizeOutputMadeMeanwhile: a NEWFILE that another process creates
// while optimize --output writes it (without --force) is kept, and the
// optimize fails, leaving no temporary file; it was replaced.
func TestOptimizeOutputMadeMeanwhile(t *testing.T) {
	bin := buildBinary(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	must(t, os.Mkdir(src, 0o755))
	// Zeros: a small WIM whose recompression takes long enough to make
	// NEWFILE while it runs.
	wimtest.SparseFile(t, filepath.Join(src, "zeros"), 64<<20)
	dir := filepath.Join(tmp, "out")
	must(t, os.Mkdir(dir, 0o755))
	wimfile, newfile := filepath.Join(dir, "z.wim"), filepath.Join(dir, "new.wim")
	mustRun(t, bin, 0, "capture", src, wimfile)
	cmd := exec.Command(bin, "optimize", wimfile, "--output="+newfile, "--compress=lzx")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		if ms, _ := filepath.Glob(filepath.Join(dir, ".new.wim"+tempInfix+"*")); len(ms) > 0 {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("optimize made no temporary file")
		}
	}
	precious := []byte("made by another process")
	must(t, os.WriteFile(newfile, precious, 0o644))
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitFailure || !strings.Contains(stderr.String(), "new.wim") {
		t.Errorf("exit %d (%v), want %d naming new.wim; stderr %q", code, err, exitFailure, stderr.String())
	}
	if b, err := os.ReadFile(newfile); err != nil || !bytes.Equal(b, precious) {
		t.Errorf("new.wim holds %d bytes (%v), want the other process's file", len(b), err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 2 {
		t.Errorf("directory holds %v, want z.wim and new.wim only", left)
	}
}

// TestOracleKeepsNoRPFix: a WIM wimlib-imagex captured with --norpfix
// (no RP_FIX header flag) keeps the flag unset through wimsnap's delete,
// info edit, optimize and export-image to a new WIM, as through wimlib's;
// they set it. An append sets it: the image it adds has its absolute link
// targets made relative, which wimlib's apply then puts back under its
// target (the links of wimlib's --norpfix images are marked as not made
// relative). A capture of wimsnap's sets it, as wimlib's does.
func TestOracleKeepsNoRPFix(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	tmp := t.TempDir()
	src, w := filepath.Join(tmp, "src"), filepath.Join(tmp, "n.wim")
	writeFile(t, src, "a.txt", []byte("a"))
	wimtest.Wimlib(t, "capture", src, w, "one", "--norpfix")
	for _, n := range []string{"two", "three", "four"} {
		wimtest.Wimlib(t, "append", src, w, n, "--norpfix")
	}
	rpfix := func(name string) bool { return wimtest.Open(t, name).Header().RPFix() }
	if rpfix(w) {
		t.Fatal("wimlib-imagex --norpfix set RP_FIX")
	}
	out := filepath.Join(tmp, "e.wim")
	for _, args := range [][]string{{"delete", w, "4"}, {"info", w, "1", "--name=uno"}, {"optimize", w},
		{"export-image", w, "1", out}} {
		runAppOK(t, nil, args...)
		if rpfix(w) || args[0] == "export-image" && rpfix(out) {
			t.Errorf("%s set RP_FIX", args[0])
		}
	}
	ours := filepath.Join(tmp, "ours.wim")
	runAppOK(t, nil, "capture", src, ours)
	if !rpfix(ours) {
		t.Error("a capture left RP_FIX unset")
	}
	must(t, os.Symlink(filepath.Join(src, "a.txt"), filepath.Join(src, "abs")))
	runAppOK(t, nil, "append", src, w, "--name=five")
	if !rpfix(w) {
		t.Error("an append left RP_FIX unset")
	}
	applied := filepath.Join(tmp, "applied")
	wimtest.Wimlib(t, "apply", w, "five", applied)
	if got, err := os.Readlink(filepath.Join(applied, "abs")); err != nil || got != filepath.Join(applied, "a.txt") {
		t.Errorf("wimlib-imagex applies the appended image's absolute link as %q (%v), want %q", got, err,
			filepath.Join(applied, "a.txt"))
	}
}
