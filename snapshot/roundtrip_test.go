//go:build unix

package snapshot

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestCaptureWimlibApply: wimsnap captures, wimlib-imagex verifies and
// applies, the trees match.
func TestCaptureWimlibApply(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	for _, comp := range []wim.Compression{wim.CompressNone, wim.CompressXPRESS, wim.CompressLZX} {
		t.Run(comp.String(), func(t *testing.T) {
			tmp := t.TempDir()
			src, out, w := filepath.Join(tmp, "src"), filepath.Join(tmp, "out"), filepath.Join(tmp, "x.wim")
			wimtest.MakeTree(t, src, wimtest.TreeOptions{})
			st := captureWIM(t, src, w, CaptureOptions{}, wim.WithCompression(comp))
			if st.Skipped != 0 || st.Warnings != 0 {
				t.Errorf("capture: %+v", st)
			}
			t.Logf("capture: %+v", st)
			wimtest.Wimlib(t, "verify", w)
			wimtest.Wimlib(t, "apply", w, "1", out, "--unix-data")
			wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
		})
	}
}

// TestLongSymlinkWimlibApply: symlinks with targets as long as Linux
// allows, whose reparse data would pass Windows' 16 KiB with both names,
// are captured within it: wimlib-imagex applies them (it refused the
// WIM), and so does wimsnap.
func TestLongSymlinkWimlibApply(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	tmp := t.TempDir()
	src, w := filepath.Join(tmp, "src"), filepath.Join(tmp, "x.wim")
	must(t, os.MkdirAll(src, 0o755))
	for name, target := range map[string]string{
		"abs":      "/" + strings.Repeat("a", 4093),
		"rel":      strings.Repeat("r", 4095),
		"unicode":  strings.Repeat("é", 2047),
		"boundary": strings.Repeat("b", 4090),
	} {
		must(t, os.Symlink(target, filepath.Join(src, name)))
	}
	captureWIM(t, src, w, CaptureOptions{}, wim.WithCompression(wim.CompressXPRESS))
	wimtest.Wimlib(t, "apply", w, "1", filepath.Join(tmp, "wimlib"), "--unix-data")
	wimtest.CompareTrees(t, src, filepath.Join(tmp, "wimlib"), wimtest.CompareOptions{})
	r, m := openWIM(t, w)
	applyOK(t, m, r, filepath.Join(tmp, "ours"), ApplyOptions{})
	wimtest.CompareTrees(t, src, filepath.Join(tmp, "ours"), wimtest.CompareOptions{})
}

// TestWimlibCaptureApply: wimlib-imagex captures, wimsnap reads and
// applies, the trees match.
func TestWimlibCaptureApply(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	for _, v := range wimtest.WimlibVariants {
		t.Run(v.Name, func(t *testing.T) {
			out, w := filepath.Join(tmp, "out-"+v.Name), filepath.Join(tmp, v.Name+".wim")
			wimtest.Wimlib(t, append([]string{"capture", src, w, "--unix-data"}, v.Flags...)...)
			r, m := openWIM(t, w)
			st := applyOK(t, m, r, out, ApplyOptions{})
			t.Logf("apply: %+v", st)
			wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
		})
	}
}

// TestCaptureMatchesWimlib compares wimsnap's image of a tree with
// wimlib-imagex's, entry by entry.
func TestCaptureMatchesWimlib(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	tmp := t.TempDir()
	src, w := filepath.Join(tmp, "src"), filepath.Join(tmp, "x.wim")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	wimtest.Wimlib(t, "capture", src, w, "--unix-data", "--compress=none")
	_, want := openWIM(t, w)
	got, _, err := Capture(t.Context(), src, newMemStore(), CaptureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantLinks, gotLinks := map[uint64][]string{}, map[uint64][]string{}
	compareEntries(t, "", want.Root, got.Root, wantLinks, gotLinks)
	groups := func(m map[uint64][]string) [][]string {
		var g [][]string
		for _, names := range m {
			g = append(g, names)
		}
		slices.SortFunc(g, func(a, b []string) int { return slices.Compare(a, b) })
		return g
	}
	if w, g := groups(wantLinks), groups(gotLinks); !slices.EqualFunc(w, g, slices.Equal) {
		t.Errorf("hard link groups\n got %q\nwant %q", g, w)
	}
}

// ext returns a copy of e.Ext, the zero EntryExt when it is nil.
func ext(e *wim.Entry) wim.EntryExt {
	if e.Ext == nil {
		return wim.EntryExt{}
	}
	return *e.Ext
}

func compareEntries(t *testing.T, path string, want, got *wim.Entry, wantLinks, gotLinks map[uint64][]string) {
	t.Helper()
	errf := func(format string, args ...any) {
		t.Errorf("%q: %s", "/"+path, fmt.Sprintf(format, args...))
	}
	if want.Attributes != got.Attributes {
		errf("attributes %#x, want %#x", got.Attributes, want.Attributes)
	}
	// Last access times are not compared: wimlib's capture ran first and
	// read the files.
	if want.CreationTime != got.CreationTime || want.LastWriteTime != got.LastWriteTime {
		errf("times %d/%d, want %d/%d", got.CreationTime, got.LastWriteTime, want.CreationTime, want.LastWriteTime)
	}
	if want.Data.Hash != got.Data.Hash {
		errf("data hash %x, want %x", got.Data.Hash, want.Data.Hash)
	}
	if w, g := ext(want), ext(got); want.IsReparse() && (w.Reparse.Hash != g.Reparse.Hash || w.ReparseTag != g.ReparseTag ||
		w.ReparseFlags != g.ReparseFlags || w.ReparseReserved != g.ReparseReserved) {
		errf("reparse %x tag %#x flags %#x, want %x tag %#x flags %#x", g.Reparse.Hash, g.ReparseTag,
			g.ReparseFlags, w.Reparse.Hash, w.ReparseTag, w.ReparseFlags)
	}
	if (want.Unix == nil) != (got.Unix == nil) || want.Unix != nil && *want.Unix != *got.Unix {
		errf("unix data %+v, want %+v", got.Unix, want.Unix)
	}
	if !slices.EqualFunc(want.Xattrs, got.Xattrs, func(a, b wim.Xattr) bool {
		return a.Name == b.Name && string(a.Value) == string(b.Value) && a.Flags == b.Flags
	}) {
		errf("xattrs %v, want %v", got.Xattrs, want.Xattrs)
	}
	if (want.LinkID == 0) != (got.LinkID == 0) {
		errf("link id %d, want %d", got.LinkID, want.LinkID)
	}
	if want.LinkID != 0 {
		wantLinks[want.LinkID] = append(wantLinks[want.LinkID], path)
	}
	if got.LinkID != 0 {
		gotLinks[got.LinkID] = append(gotLinks[got.LinkID], path)
	}
	names := func(e *wim.Entry) []string {
		var n []string
		for _, c := range e.Children {
			n = append(n, c.Name)
		}
		return n
	}
	if w, g := names(want), names(got); !slices.Equal(w, g) {
		errf("children\n got %q\nwant %q", g, w)
		return
	}
	for i := range want.Children {
		p := want.Children[i].Name
		if path != "" {
			p = path + "/" + p
		}
		compareEntries(t, p, want.Children[i], got.Children[i], wantLinks, gotLinks)
	}
}

// TestRoundTripNonUTF8 captures and applies with wimsnap alone: names that
// are not UTF-8 come back byte for byte, and wimlib-imagex accepts the WIM.
func TestRoundTripNonUTF8(t *testing.T) {
	tmp := t.TempDir()
	src, out, w := filepath.Join(tmp, "src"), filepath.Join(tmp, "out"), filepath.Join(tmp, "x.wim")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{NonUTF8: true})
	var warns warnings
	st := captureWIM(t, src, w, CaptureOptions{Warn: warns.add})
	if st.Warnings != 2 || st.Skipped != 0 || len(warns.list) != 2 {
		t.Errorf("capture stats %+v, warnings %q; want 2 warnings (the two names)", st, warns.list)
	}
	r, m := openWIM(t, w)
	if find(m.Root, "names/"+wimtest.NonUTF8Name) == nil {
		t.Errorf("entry %q missing from the image", wimtest.NonUTF8Name)
	}
	applyOK(t, m, r, out, ApplyOptions{})
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
	if _, err := exec.LookPath("wimlib-imagex"); err == nil {
		wimtest.Wimlib(t, "verify", w)
	}
}

// TestUpdateNonUTF8WarnsNewNames: a capture against the previous image of
// the tree (a snapshot with a parent, append --update-of) warns only about
// names that are not UTF-8 and new since that image; a file server with
// latin-1 names would otherwise get the same warnings every night.
func TestUpdateNonUTF8WarnsNewNames(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{NonUTF8: true})
	store := newMemStore()
	var first warnings
	m, _, err := Capture(t.Context(), src, store, CaptureOptions{Warn: first.add})
	if err != nil || len(first.list) != 2 {
		t.Fatalf("first capture: %v, warnings %q; want 2", err, first.list)
	}
	if err := os.WriteFile(filepath.Join(src, "new\xe9.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var again warnings
	if _, _, err := Capture(t.Context(), src, store, CaptureOptions{Warn: again.add, Update: m}); err != nil {
		t.Fatal(err)
	}
	if len(again.list) != 1 || !strings.Contains(again.list[0], "new\\xe9.txt") {
		t.Errorf("update capture warnings %q; want one, about the new name", again.list)
	}
}

// TestApplyPaths extracts two subtrees by path.
func TestApplyPaths(t *testing.T) {
	tmp := t.TempDir()
	src, out := filepath.Join(tmp, "src"), filepath.Join(tmp, "out")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	store := newMemStore()
	m, _, err := Capture(t.Context(), src, store, CaptureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	applyOK(t, m, store, out, ApplyOptions{Paths: []string{"/data", `links\hard`, "small.txt"}})
	wimtest.CompareTrees(t, filepath.Join(src, "data"), filepath.Join(out, "data"), wimtest.CompareOptions{})
	wimtest.CompareTrees(t, filepath.Join(src, "links/hard"), filepath.Join(out, "hard"), wimtest.CompareOptions{})
	if _, err := Apply(t.Context(), m, store, out, ApplyOptions{Paths: []string{"nope/x"}}); !errors.Is(err, ErrPathNotFound) {
		t.Errorf("missing path: err %v, want ErrPathNotFound", err)
	}
}
