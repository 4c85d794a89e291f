//go:build unix

package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// hostileImage builds an image that tries to write outside the target.
func hostileImage(t *testing.T, store *memStore, outside string) *wim.Metadata {
	t.Helper()
	add := func(data string) wim.Stream {
		h, err := store.AddStream(strings.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		return wim.Stream{Hash: h, Size: int64(len(data))}
	}
	symlink := func(name, target string, notFixed bool) *wim.Entry {
		data, flags := wim.SymlinkReparse(target, "")
		if !notFixed {
			flags = 0
		}
		h, err := store.AddStream(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		return &wim.Entry{Name: name, Attributes: wim.AttrReparsePoint | wim.AttrDirectory, SecurityID: -1,
			Ext: &wim.EntryExt{ReparseTag: wim.ReparseTagSymlink, ReparseFlags: flags, Reparse: wim.Stream{Hash: h, Size: int64(len(data))}}}
	}
	file := func(name, data string) *wim.Entry {
		return &wim.Entry{Name: name, Attributes: wim.AttrNormal, Data: add(data), SecurityID: -1}
	}
	dir := func(name string, children ...*wim.Entry) *wim.Entry {
		return &wim.Entry{Name: name, Attributes: wim.AttrDirectory, Children: children, SecurityID: -1}
	}
	// "esc" is first a symlink to the outside, then a directory of the same
	// name whose file would land outside if the symlink were followed.
	esc := symlink("esc", outside, true)
	esc.Children = []*wim.Entry{file("through-symlink-child", "x")} // children of a non-directory
	return &wim.Metadata{Root: dir("",
		file("..", "dotdot"),
		file(".", "dot"),
		file("", "empty name"),
		file("a/b", "slash"),
		file("../escape", "slash dotdot"),
		file("nul\x00name", "nul"),
		dir("..", file("pwned", "x")),
		esc,
		dir("esc", file("pwned", "x")),
		symlink("fixed-esc", "/../../"+filepath.Base(outside), false),
		file("ok", "fine"),
	)}
}

func TestApplyHostile(t *testing.T) {
	tmp := t.TempDir()
	outside := filepath.Join(tmp, "outside")
	box := filepath.Join(tmp, "box")
	target := filepath.Join(box, "target")
	for _, d := range []string{outside, box} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	store := newMemStore()
	m := hostileImage(t, store, outside)
	var warns warnings
	st, err := Apply(t.Context(), m, store, target, ApplyOptions{Warn: warns.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stats %+v, warnings:\n%q", st, warns.list)
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("written outside the target: %v", ents)
	}
	if ents, _ := os.ReadDir(box); len(ents) != 1 {
		t.Errorf("written beside the target: %v", ents)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 2 {
		t.Errorf("written above the target: %v", ents)
	}
	var got []string
	ents, _ := os.ReadDir(target)
	for _, e := range ents {
		got = append(got, e.Name())
	}
	slices.Sort(got)
	if want := []string{"esc", "fixed-esc", "ok"}; !slices.Equal(got, want) {
		t.Errorf("target holds %q, want %q", got, want)
	}
	if fi, err := os.Lstat(filepath.Join(target, "esc")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("esc: %v, %v; want the symlink", fi, err)
	}
	// A fixed absolute target is re-rooted under the target, ".." and all:
	// it stays a symlink, and nothing is created through it.
	if l, err := os.Readlink(filepath.Join(target, "fixed-esc")); err != nil || l != target+"/../../outside" {
		t.Errorf("fixed-esc -> %q, %v", l, err)
	}
	if st.Skipped != 8 {
		t.Errorf("skipped %d, want 8 (7 bad names and the duplicate esc)", st.Skipped)
	}
	// A name holding '/' is warned about by its directory's path, the
	// name quoted: joined, "../escape" read as a path outside the target.
	if !slices.Contains(warns.list, fmt.Sprintf(`%q: refusing entry name "../escape": it contains '/' or NUL`, target)) {
		t.Errorf("warnings %q; want ../escape named in the root's", warns.list)
	}
}

// TestApplyReplacesSymlinkInTarget: a symlink already in the target where
// the image has a directory or a file is replaced, not followed.
func TestApplyReplacesSymlinkInTarget(t *testing.T) {
	tmp := t.TempDir()
	outside, target := filepath.Join(tmp, "outside"), filepath.Join(tmp, "target")
	for _, d := range []string{outside, target} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "victim"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(target, "d")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "victim"), filepath.Join(target, "f")); err != nil {
		t.Fatal(err)
	}
	store := newMemStore()
	h, _ := store.AddStream(bytes.NewReader([]byte("new")), 3)
	m := &wim.Metadata{Root: &wim.Entry{Attributes: wim.AttrDirectory, Children: []*wim.Entry{
		{Name: "d", Attributes: wim.AttrDirectory, Children: []*wim.Entry{{Name: "victim", Attributes: wim.AttrNormal, Data: wim.Stream{Hash: h, Size: 3}}}},
		{Name: "f", Attributes: wim.AttrNormal, Data: wim.Stream{Hash: h, Size: 3}},
	}}}
	applyOK(t, m, store, target, ApplyOptions{})
	if b, _ := os.ReadFile(filepath.Join(outside, "victim")); string(b) != "keep" {
		t.Errorf("outside file changed to %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(target, "d/victim")); string(b) != "new" {
		t.Errorf("d/victim = %q", b)
	}
	if fi, _ := os.Lstat(filepath.Join(target, "f")); fi == nil || !fi.Mode().IsRegular() {
		t.Errorf("f is %v, want a regular file", fi)
	}
}

func TestApplyCancel(t *testing.T) {
	store := newMemStore()
	h, _ := store.AddStream(bytes.NewReader([]byte("abc")), 3)
	root := &wim.Entry{Attributes: wim.AttrDirectory}
	for i := range 100 {
		root.Children = append(root.Children, &wim.Entry{Name: string(rune('a'+i%26)) + string(rune('0'+i/26)), Attributes: wim.AttrNormal, Data: wim.Stream{Hash: h, Size: 3}})
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Apply(ctx, &wim.Metadata{Root: root}, store, t.TempDir(), ApplyOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	// A missing stream is a skipped file, not a failed apply; the file is
	// not counted among those applied.
	root.Children[0].Data.Hash[0] ^= 1
	st, err := Apply(t.Context(), &wim.Metadata{Root: root}, store, t.TempDir(), ApplyOptions{})
	if err != nil || st.Skipped != 1 || st.Files != 99 {
		t.Errorf("missing stream: %+v, %v", st, err)
	}
}

// TestApplyNoUnixData: without UNIX data, special files become empty files
// and modes are the defaults; Progress gets a final call.
func TestApplyNoUnixData(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	store := newMemStore()
	m, _, err := Capture(t.Context(), src, store, CaptureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	var last Progress
	st := applyOK(t, m, store, out, ApplyOptions{NoUnixData: true, Workers: 1, Progress: func(p Progress) { last = p }})
	if last.Files != st.Files || last.Bytes != st.Bytes || st.Special != 0 {
		t.Errorf("final progress %+v, stats %+v", last, st)
	}
	for p, want := range map[string]os.FileMode{"special/fifo": 0o644, "modes/setuid": 0o644, "modes/readonly": 0o644, "modes/sticky": os.ModeDir | 0o755} {
		fi, err := os.Lstat(filepath.Join(out, p))
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: %v, %v; want mode %v", p, fi.Mode(), err, want)
		}
	}
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{IgnoreModes: true, IgnoreOwners: true, IgnoreXattrs: true,
		IgnorePaths: []string{"special"}})
}

// TestApplyDeepLinksLinear: an image of deeply nested directories whose
// deepest holds many hard-linked files is applied in memory linear in its
// entries; each file's link group once kept a copy of its directory's
// path, quadratic in such a tree (a crafted 2.5 MB WIM took 1.5 GB).
func TestApplyDeepLinksLinear(t *testing.T) {
	const depth, files = 2000, 2000
	var leaf []*wim.Entry
	for i := range files {
		leaf = append(leaf, &wim.Entry{Name: fmt.Sprintf("f%d", i), Attributes: wim.AttrNormal, SecurityID: -1, LinkID: uint64(i + 1)})
	}
	root := &wim.Entry{Attributes: wim.AttrDirectory, SecurityID: -1}
	d := root
	for range depth {
		sub := &wim.Entry{Name: "d", Attributes: wim.AttrDirectory, SecurityID: -1}
		d.Children = []*wim.Entry{sub}
		d = sub
	}
	d.Children = leaf
	var st ApplyStats
	var err error
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	st, err = Apply(t.Context(), &wim.Metadata{Root: root}, newMemStore(), filepath.Join(t.TempDir(), "out"), ApplyOptions{})
	runtime.ReadMemStats(&after)
	if err != nil || st.Files != files || st.Dirs != depth+1 {
		t.Fatalf("stats %+v, err %v", st, err)
	}
	// The paths copied per file would take depth*files*16 bytes = 64 MB.
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
		t.Errorf("applying %d files %d directories deep allocated %d MB", files, depth, got>>20)
	}
}

// TestDryRunUnappliableReparse: a reparse point that is no symlink (a
// cloud file's, here) is skipped by a rollback on Linux, with a warning,
// and so by its dry run, which counted it a symlink to write.
func TestDryRunUnappliableReparse(t *testing.T) {
	store := newMemStore()
	cloud := &wim.Entry{Name: "cloud", Attributes: wim.AttrReparsePoint, SecurityID: -1,
		Ext: &wim.EntryExt{ReparseTag: 0x9000601A, Reparse: storeBytes(t, store, []byte("placeholder"))}}
	m := &wim.Metadata{Root: &wim.Entry{Attributes: wim.AttrDirectory, SecurityID: -1, Children: []*wim.Entry{cloud}}}
	for _, inWay := range []string{"file", "dir"} { // a directory in its place is kept too
		target := t.TempDir()
		if inWay == "file" {
			must(t, os.WriteFile(filepath.Join(target, "cloud"), []byte("the user's"), 0o644))
		} else {
			writeFiles(t, filepath.Join(target, "cloud"), map[string]string{"sub/y": "y", "w": "w"})
		}
		dryRunAgrees(t, m, store, target)
	}
}

// dryRunAgrees applies m from store over target in place with Delete, as a
// dry run and then for real, and checks that the two count alike and that
// the image's one entry was skipped, warned about.
func dryRunAgrees(t *testing.T, m *wim.Metadata, store *memStore, target string) {
	t.Helper()
	var stats [2]ApplyStats
	var warned [2]int
	for i, dry := range []bool{true, false} {
		var err error
		stats[i], err = Apply(t.Context(), m, store, target, ApplyOptions{InPlace: true, Delete: true, DryRun: dry,
			Warn: func(string, error) { warned[i]++ }})
		if err != nil {
			t.Fatal(err)
		}
	}
	if stats[0] != stats[1] || stats[1].Skipped != 1 || warned != [2]int{1, 1} {
		t.Errorf("dry run %+v (%d warnings)\nrollback %+v (%d warnings)\nwant alike, the reparse point skipped, warned about",
			stats[0], warned[0], stats[1], warned[1])
	}
}

// TestApplyDirNamedStreams: the named data streams of a directory, which
// Linux has no place for, are warned about as a file's are: they were
// dropped without a word.
func TestApplyDirNamedStreams(t *testing.T) {
	store := newMemStore()
	s := storeBytes(t, store, []byte("stream data"))
	s.Name = "dirstream"
	dir := &wim.Entry{Name: "adsdir", Attributes: wim.AttrDirectory, SecurityID: -1, Ext: &wim.EntryExt{Named: []wim.Stream{s}}}
	m := &wim.Metadata{Root: &wim.Entry{Attributes: wim.AttrDirectory, SecurityID: -1, Children: []*wim.Entry{dir}}}
	var w warnings
	if _, err := Apply(t.Context(), m, store, filepath.Join(t.TempDir(), "out"), ApplyOptions{Warn: w.add}); err != nil {
		t.Fatal(err)
	}
	if len(w.list) != 1 || !strings.Contains(w.list[0], "adsdir") || !strings.Contains(w.list[0], "1 named data stream not applied") {
		t.Errorf("warnings %q; want one about adsdir's named stream", w.list)
	}
}

// TestDryRunWarnsRefusedNames: a dry run warns about the names it skips
// (refused, or a sibling's again) as the restore does: it counted them
// skipped without a word.
func TestDryRunWarnsRefusedNames(t *testing.T) {
	tmp := t.TempDir()
	store := newMemStore()
	m := hostileImage(t, store, filepath.Join(tmp, "outside"))
	target := filepath.Join(tmp, "target")
	names := func(dry bool) []string {
		var w warnings
		if _, err := Apply(t.Context(), m, store, target, ApplyOptions{InPlace: true, DryRun: dry, Warn: w.add}); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range w.list {
			if strings.Contains(s, "refusing entry name") || strings.Contains(s, "duplicate name") {
				out = append(out, s)
			}
		}
		slices.Sort(out)
		return out
	}
	dry, real := names(true), names(false)
	if len(real) == 0 || !slices.Equal(dry, real) {
		t.Errorf("dry run warned %q\nthe restore %q", dry, real)
	}
}
