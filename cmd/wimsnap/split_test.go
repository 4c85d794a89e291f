//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestSplitWIMCommands: a WIM split by wimlib-imagex (as DISM's
// /Split-Image splits install.wim onto FAT32 media) applies, extracts,
// lists, verifies and imports from any of its parts, the others found by
// their names or given with --ref, and the trees match wimlib's apply of
// the whole WIM; optimize --output joins them. Missing parts are named;
// optimize in place and append refuse a part; --ref on a WIM that is not
// split is a usage error.
func TestSplitWIMCommands(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	bin := buildBinary(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	addRandomFiles(t, filepath.Join(src, "big"), 6, 100)
	whole := filepath.Join(tmp, "install.wim")
	wimtest.Wimlib(t, "capture", src, whole, "--compress=lzx", "--unix-data")
	media := filepath.Join(tmp, "media")
	if err := os.Mkdir(media, 0o755); err != nil {
		t.Fatal(err)
	}
	swm := filepath.Join(media, "install.swm")
	wimtest.Wimlib(t, "split", whole, swm, "1")
	last := filepath.Join(media, "install3.swm")
	if _, err := os.Stat(last); err != nil {
		t.Fatalf("wimlib-imagex split made fewer than 3 parts: %v", err)
	}
	want := filepath.Join(tmp, "want")
	wimtest.Wimlib(t, "apply", whole, "1", want, "--unix-data")

	// apply from part 1 and from the last part: the others are found.
	for _, part := range []string{swm, last} {
		out := filepath.Join(tmp, "apply-"+filepath.Base(part))
		mustRun(t, bin, 0, "apply", part, "1", out)
		wimtest.CompareTrees(t, want, out, wimtest.CompareOptions{})
	}
	mustRun(t, bin, 0, "verify", last)
	ext := filepath.Join(tmp, "ext")
	mustRun(t, bin, 0, "extract", swm, "1", "/big", "--dest-dir", ext)
	wimtest.CompareTrees(t, filepath.Join(want, "big"), filepath.Join(ext, "big"), wimtest.CompareOptions{})
	if got, wantList := mustRun(t, bin, 0, "dir", last).stdout, mustRun(t, bin, 0, "dir", whole).stdout; got != wantList {
		t.Errorf("dir of the last part lists\n%s\nwant\n%s", got, wantList)
	}
	var info infoJSON
	if err := json.Unmarshal([]byte(mustRun(t, bin, 0, "info", last, "--json").stdout), &info); err != nil {
		t.Fatal(err)
	}
	if info.Header.Part != 3 || info.Header.Parts < 3 || len(info.Images) != 1 {
		t.Errorf("info of the last part: part %d of %d, %d images", info.Header.Part, info.Header.Parts, len(info.Images))
	}

	// Renamed parts are found with --ref only; without them, the missing
	// ones are named.
	moved := filepath.Join(tmp, "moved")
	if err := os.Mkdir(moved, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(last, filepath.Join(moved, "last-part.swm")); err != nil {
		t.Fatal(err)
	}
	res := mustRun(t, bin, 1, "apply", swm, "1", filepath.Join(tmp, "incomplete"))
	if !strings.Contains(res.stderr, "part(s) 3 missing") || !strings.Contains(res.stderr, "install3.swm") {
		t.Errorf("apply without part 3: %s", res.stderr)
	}
	if _, err := os.Stat(filepath.Join(tmp, "incomplete")); err == nil {
		t.Error("apply without part 3 made its target")
	}
	mustRun(t, bin, 1, "verify", swm)
	mustRun(t, bin, 0, "verify", swm, "--ref", filepath.Join(moved, "*.swm"))
	withRef := filepath.Join(tmp, "with-ref")
	mustRun(t, bin, 0, "apply", swm, "1", withRef, "--ref", filepath.Join(moved, "last-part.swm"), "--ref", filepath.Join(media, "*.swm"))
	wimtest.CompareTrees(t, want, withRef, wimtest.CompareOptions{})

	// A repository takes the split WIM's image as a snapshot.
	env := []string{"WIMSNAP_REPOSITORY=" + filepath.Join(tmp, "repo"), "WIMSNAP_CACHE_DIR=" + filepath.Join(tmp, "cache")}
	restored := filepath.Join(tmp, "restored")
	for _, args := range [][]string{
		{"init"},
		{"import", swm, "--ref", filepath.Join(moved, "last-part.swm")},
		{"restore", "latest", "--target", restored},
	} {
		if res := runBin(t, bin, env, args...); res.code != 0 {
			t.Fatalf("wimsnap %s: exit %d\n%s", strings.Join(args, " "), res.code, res.stderr)
		}
	}
	wimtest.CompareTrees(t, want, restored, wimtest.CompareOptions{})

	// optimize --output joins the parts into one WIM.
	joined := filepath.Join(tmp, "joined.wim")
	mustRun(t, bin, 0, "optimize", swm, "--output", joined, "--ref", filepath.Join(moved, "last-part.swm"))
	wimtest.Wimlib(t, "verify", joined)
	fromJoined := filepath.Join(tmp, "from-joined")
	wimtest.Wimlib(t, "apply", joined, "1", fromJoined, "--unix-data")
	wimtest.CompareTrees(t, want, fromJoined, wimtest.CompareOptions{})

	// What a part cannot do.
	mustRun(t, bin, 1, "optimize", swm)
	mustRun(t, bin, 1, "append", src, swm)
	// A WIM that is not split takes --ref as the WIMs whose streams it
	// refers to (a delta WIM's bases), as wimlib-imagex does: a part is one.
	mustRun(t, bin, 0, "verify", whole, "--ref", swm)
	res = mustRun(t, bin, 1, "apply", swm, "1", filepath.Join(tmp, "wrong"), "--ref", whole)
	if !strings.Contains(res.stderr, "not a part of the split WIM") {
		t.Errorf("apply with a whole WIM as --ref: %s", res.stderr)
	}
}

// addRandomFiles writes n incompressible 400 KiB files r0.bin... into dir,
// from seeds seed, seed+1, ...: enough for a 1 MiB split to need parts.
func addRandomFiles(t *testing.T, dir string, n int, seed uint64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("r%d.bin", i))
		if err := os.WriteFile(p, wimtest.RandomBytes(seed+uint64(i), 400<<10), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPartNames: the names DISM and wimlib give a split WIM's parts are
// found from any part's name.
func TestPartNames(t *testing.T) {
	for _, c := range []struct {
		name        string
		part, parts int
		want        []string
	}{
		{"d/install.swm", 1, 3, []string{"d/install2.swm", "d/install3.swm"}},
		{"d/install2.swm", 2, 3, []string{"d/install.swm", "d/install3.swm"}},
		{"install12.swm", 12, 12, nil}, // filled below
		{"d/renamed.swm", 2, 2, nil},   // part 2 not named base2: nothing to find
		{"d/x", 1, 2, []string{"d/x2"}},
	} {
		if c.name == "install12.swm" {
			c.want = []string{"install.swm"}
			for k := 2; k <= 11; k++ {
				c.want = append(c.want, fmt.Sprintf("install%d.swm", k))
			}
		}
		if got := partNames(c.name, c.part, c.parts); !reflect.DeepEqual(got, c.want) {
			t.Errorf("partNames(%q, %d, %d) = %q, want %q", c.name, c.part, c.parts, got, c.want)
		}
	}
}

// TestSplitCommand: wimsnap split writes parts no larger than asked that
// wimlib-imagex verifies (integrity tables included) and
// applies to the tree captured; wimsnap applies them too. A WIM that
// cannot be split leaves no part nor temporary file behind.
func TestSplitCommand(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	bin := buildBinary(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	addRandomFiles(t, filepath.Join(src, "big"), 12, 200)
	w := filepath.Join(tmp, "t.wim")
	mustRun(t, bin, 0, "capture", src, w, "--check")
	out := filepath.Join(tmp, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	// The tree's largest file is 3 MiB: every part can keep to 3.5 MiB.
	const limit = 3.5 * (1 << 20)
	res := mustRun(t, bin, 0, "split", w, filepath.Join(out, "t.swm"), "3.5", "--json")
	var sum splitSummary
	if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Parts) < 3 {
		t.Fatalf("split into %d parts, want 3 or more", len(sum.Parts))
	}
	for i, p := range sum.Parts {
		if want := filepath.Join(out, fmt.Sprintf("t%d.swm", i+1)); i > 0 && p.File != want {
			t.Errorf("part %d is %s, want %s", i+1, p.File, want)
		}
		if p.Bytes > limit {
			t.Errorf("part %d holds %d bytes, more than 3.5 MiB", i+1, p.Bytes)
		}
	}
	wimtest.Wimlib(t, "verify", sum.Parts[0].File, "--ref="+filepath.Join(out, "t*.swm"))
	byWimlib := filepath.Join(tmp, "by-wimlib")
	wimtest.Wimlib(t, "apply", sum.Parts[0].File, "1", byWimlib, "--ref="+filepath.Join(out, "t*.swm"), "--unix-data")
	wimtest.CompareTrees(t, src, byWimlib, wimtest.CompareOptions{})
	ours := filepath.Join(tmp, "ours")
	mustRun(t, bin, 0, "apply", sum.Parts[len(sum.Parts)-1].File, "1", ours)
	wimtest.CompareTrees(t, src, ours, wimtest.CompareOptions{})

	// Split again into fewer parts: the earlier ones beyond get a warning.
	res = mustRun(t, bin, 0, "split", w, filepath.Join(out, "t.swm"), "100", "--json")
	var again splitSummary
	if err := json.Unmarshal([]byte(res.stdout), &again); err != nil {
		t.Fatal(err)
	}
	if len(again.Parts) != 1 || again.WarningsTotal != int64(len(sum.Parts)-1) ||
		again.Warnings[0].Path != filepath.Join(out, "t2.swm") {
		t.Errorf("a split into 1 part over %d older parts: %+v", len(sum.Parts), again)
	}
	// An older part beside the new t.swm names it as another set's, not as
	// missing only.
	res = mustRun(t, bin, 1, "apply", filepath.Join(out, "t2.swm"), "1", filepath.Join(tmp, "mixed"))
	if !strings.Contains(res.stderr, "t.swm belongs to another split WIM") {
		t.Errorf("apply of a part whose part 1 is of another set: %s", res.stderr)
	}

	// A part that is there but cannot be read (a truncated copy) is named,
	// with why, not only called missing.
	cut := filepath.Join(tmp, "cut")
	if err := os.Mkdir(cut, 0o755); err != nil {
		t.Fatal(err)
	}
	mustRun(t, bin, 0, "split", w, filepath.Join(cut, "t.swm"), "3.5")
	must(t, os.Truncate(filepath.Join(cut, "t2.swm"), 1000))
	res = mustRun(t, bin, 1, "verify", filepath.Join(cut, "t.swm"))
	if !strings.Contains(res.stderr, "missing") || !strings.Contains(res.stderr, "cannot read "+filepath.Join(cut, "t2.swm")) {
		t.Errorf("verify beside a truncated part 2: %s", res.stderr)
	}

	solid := filepath.Join(tmp, "solid.wim")
	wimtest.Wimlib(t, "capture", filepath.Join(src, "big"), solid, "--solid")
	failed := filepath.Join(tmp, "failed")
	if err := os.Mkdir(failed, 0o755); err != nil {
		t.Fatal(err)
	}
	mustRun(t, bin, 1, "split", solid, filepath.Join(failed, "s.swm"), "1")
	if left, _ := os.ReadDir(failed); len(left) != 0 {
		t.Errorf("a failed split left %d files", len(left))
	}
	mustRun(t, bin, 2, "split", w, filepath.Join(failed, "s.swm"), "0")
}

// TestMissingPartsMessage: a header claiming thousands of parts gives a
// message naming ten of them, not all.
func TestMissingPartsMessage(t *testing.T) {
	var missing []int
	for k := 2; k <= 65535; k++ {
		missing = append(missing, k)
	}
	tried := partNames("a.swm", 1, 65535)
	msg := missingParts("a.swm", wim.Header{Part: 1, Parts: 65535}, missing, tried, &partSet{}).Error()
	if len(msg) > 400 || !strings.Contains(msg, "65524 more") || !strings.Contains(msg, "a11.swm, ...") {
		t.Errorf("message of %d bytes: %s", len(msg), msg)
	}
}

// TestSplitOntoItself: a split whose part would take WIMFILE's name (part
// 1, or a further part: x2.wim split as x.wim) is refused with exit 2,
// WIMFILE untouched and no part left; part 1 replaced WIMFILE.
func TestSplitOntoItself(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	writeFile(t, src, "a.bin", randomBytes(3, 3<<20))
	w := filepath.Join(tmp, "x2.wim")
	runAppOK(t, nil, "capture", src, w, "--compress=none")
	before, err := os.ReadFile(w)
	must(t, err)
	for _, swm := range []string{w, filepath.Join(tmp, "x.wim")} {
		code, _, errb := runApp(t, nil, "split", w, swm, "1")
		if code != exitUsage || !strings.Contains(errb, "would replace WIMFILE itself") {
			t.Errorf("split %s as %s: exit %d, %s; want %d", w, swm, code, errb, exitUsage)
		}
		if after, err := os.ReadFile(w); err != nil || !bytes.Equal(after, before) {
			t.Fatalf("split as %s changed WIMFILE (%v)", swm, err)
		}
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 2 {
		t.Errorf("%d entries beside WIMFILE and src, want none", len(ents)-2)
	}
}
