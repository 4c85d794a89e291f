//go:build unix && wimlib

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// deltaWIM captures a tree with every kind of entry into base.wim with
// wimlib-imagex, changes a file and adds some, and captures the tree again
// into delta.wim with --delta-from=base.wim, which holds only the streams
// base.wim lacks. It returns the tree (as at the second capture) and the
// two WIMs.
func deltaWIM(t *testing.T, dir string) (src, base, delta string) {
	t.Helper()
	src, base, delta = filepath.Join(dir, "src"), filepath.Join(dir, "base.wim"), filepath.Join(dir, "delta.wim")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	addRandomFiles(t, filepath.Join(src, "big"), 3, 10)
	wimtest.Wimlib(t, "capture", src, base, "--unix-data")
	addRandomFiles(t, filepath.Join(src, "new"), 2, 20)
	if err := os.WriteFile(filepath.Join(src, "big", "r0.bin"), wimtest.RandomBytes(30, 300<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	wimtest.Wimlib(t, "capture", src, delta, "--unix-data", "--delta-from="+base)
	if b, d := fileSize(t, base), fileSize(t, delta); d > b/2 {
		t.Fatalf("delta.wim is %d bytes, base.wim %d: not a delta", d, b)
	}
	return src, base, delta
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestOracleDeltaRef: a delta WIM (wimlib-imagex --delta-from) applies,
// extracts and verifies with --ref naming its base, as with wimlib-imagex
// apply --ref, and both give the tree captured; without the base, apply
// and verify fail (exit 1) saying that --ref is needed, not that a
// checksum failed (the data is missing, not damaged), and apply leaves no
// empty file for the data it lacks.
func TestOracleDeltaRef(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	bin := buildBinary(t)
	tmp := t.TempDir()
	src, base, delta := deltaWIM(t, tmp)

	want := filepath.Join(tmp, "wimlib")
	wimtest.Wimlib(t, "apply", delta, "1", want, "--ref="+base, "--unix-data")
	wimtest.CompareTrees(t, src, want, wimtest.CompareOptions{})
	got := filepath.Join(tmp, "wimsnap")
	mustRun(t, bin, exitOK, "apply", delta, "1", got, "--ref", base)
	wimtest.CompareTrees(t, want, got, wimtest.CompareOptions{})
	ext := filepath.Join(tmp, "ext")
	mustRun(t, bin, exitOK, "extract", delta, "1", "/big", "--dest-dir", ext, "--ref", filepath.Join(tmp, "base*.wim"))
	wimtest.CompareTrees(t, filepath.Join(want, "big"), filepath.Join(ext, "big"), wimtest.CompareOptions{})
	mustRun(t, bin, exitOK, "verify", delta, "--ref", base)

	for _, args := range [][]string{{"apply", delta, "1", filepath.Join(tmp, "alone")}, {"verify", delta}} {
		res := runBin(t, bin, nil, args...)
		if res.code != exitFailure || !strings.Contains(res.stderr, "--ref") || strings.Contains(res.stderr, "checksum mismatch") {
			t.Errorf("%s of the delta alone: exit %d, stderr %q; want 1 and a pointer to --ref, no checksum mismatch", args[0], res.code, res.stderr)
		}
	}
	// An info edit (as delete) and optimize in place, which take no --ref,
	// say how to get a WIM they can rewrite, and optimize --output and
	// export-image that they need --ref; they said only "stream not found".
	before, err := os.ReadFile(delta)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"info", delta, "1", "--name=x"}, {"optimize", delta},
		{"optimize", delta, "--output", filepath.Join(tmp, "o.wim")}, {"export-image", delta, "1", filepath.Join(tmp, "e.wim")}} {
		res := runBin(t, bin, nil, args...)
		if after, _ := os.ReadFile(delta); res.code != exitFailure || !strings.Contains(res.stderr, "--ref") ||
			string(after) != string(before) {
			t.Errorf("%q of the delta: exit %d, stderr %q; want 1 and a pointer to --ref, the WIM untouched",
				args, res.code, res.stderr)
		}
	}
	for _, p := range []string{"big/r1.bin", "big/r2.bin"} { // base.wim's alone
		if _, err := os.Lstat(filepath.Join(tmp, "alone", p)); !os.IsNotExist(err) {
			t.Errorf("%s, whose data the delta lacks, is there (%v)", p, err)
		}
	}
	for _, p := range []string{"new/r0.bin", "new/r1.bin", "big/r0.bin"} { // the delta's own
		if b, err := os.ReadFile(filepath.Join(tmp, "alone", p)); err != nil || len(b) == 0 {
			t.Errorf("%s, whose data the delta holds: %d bytes, %v", p, len(b), err)
		}
	}
}

// TestOracleDeltaImport: a delta WIM imports with --ref naming its base,
// or without it into a repository that holds the base's streams, and in
// both the snapshot counts the files and bytes of the whole image, as an
// import of the tree captured whole (wimlib-imagex) does, not only those
// the delta holds; it restores to the tree. Without the base anywhere, the
// import fails pointing at --ref.
func TestOracleDeltaImport(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	bin := buildBinary(t)
	tmp := t.TempDir()
	src, base, delta := deltaWIM(t, tmp)
	whole := filepath.Join(tmp, "whole.wim")
	wimtest.Wimlib(t, "capture", src, whole, "--unix-data")
	imported := func(r *repoEnv, args ...string) importedJSON {
		t.Helper()
		var doc struct{ Snapshots []importedJSON }
		r.runJSON(t, exitOK, &doc, append([]string{"import"}, args...)...)
		if len(doc.Snapshots) != 1 {
			t.Fatalf("import %q: %d snapshots", args, len(doc.Snapshots))
		}
		return doc.Snapshots[0]
	}
	ref := newRepoEnv(t, bin)
	ref.run(t, exitOK, "init")
	want := imported(ref, whole)

	withRef := newRepoEnv(t, bin)
	withRef.run(t, exitOK, "init")
	res := withRef.run(t, exitFailure, "import", delta)
	if !strings.Contains(res.stderr, "--ref") {
		t.Errorf("import of the delta alone: stderr %q, want a pointer to --ref", res.stderr)
	}
	inRepo := newRepoEnv(t, bin)
	inRepo.run(t, exitOK, "init")
	imported(inRepo, base)
	for name, got := range map[string]importedJSON{
		"--ref":              imported(withRef, delta, "--ref", base),
		"base in repository": imported(inRepo, delta),
	} {
		if got.Files != want.Files || got.Bytes != want.Bytes {
			t.Errorf("import of the delta, %s: %d files, %d bytes; the whole image: %d files, %d bytes",
				name, got.Files, got.Bytes, want.Files, want.Bytes)
		}
	}
	target := filepath.Join(tmp, "restored")
	inRepo.run(t, exitOK, "restore", "latest", "--target", target)
	wimtest.CompareTrees(t, src, target, wimtest.CompareOptions{})
}

// TestOracleDeltaSkippedCount: applied without --ref, a delta WIM's
// symbolic link whose reparse data is in the base counts among the files
// whose data is missing, as its regular file does: the error said "1
// files" where 2 were skipped.
func TestOracleDeltaSkippedCount(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	writeFile(t, src, "f", []byte("data"))
	if err := os.Symlink("f", filepath.Join(src, "l")); err != nil {
		t.Fatal(err)
	}
	base, delta := filepath.Join(tmp, "base.wim"), filepath.Join(tmp, "delta.wim")
	wimtest.Wimlib(t, "capture", src, base)
	writeFile(t, src, "g", []byte("more"))
	wimtest.Wimlib(t, "capture", src, delta, "--delta-from="+base)
	code, _, errb := runApp(t, nil, "apply", delta, "1", filepath.Join(tmp, "out"))
	if code != exitFailure || !strings.Contains(errb, "2 files could not be applied: their data is missing") {
		t.Errorf("apply of the delta alone: exit %d, %s", code, errb)
	}
}
