//go:build unix

package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestImportExport: every image of wimlib WIMs in each codec (solid LZMS
// included) imports as a snapshot, restores as the tree, and exports as a
// WIM whose images apply identically with wimlib; identical streams are
// stored once across imports.
func TestImportExport(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	r := testRepo(t, wim.CompressXPRESS)
	snap, err := testRepo(t, wim.CompressXPRESS).Snapshot(t.Context(), src, TakeOptions{Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	counts := func(s RunSummary) [5]int64 { return [5]int64{s.Dirs, s.Files, s.Symlinks, s.Special, s.Bytes} }
	var stored int64
	for i, v := range wimtest.WimlibVariants {
		if i > 0 && testing.Short() && v.Name != "lzx" && v.Name != "solid-lzms" {
			continue
		}
		t.Run(v.Name, func(t *testing.T) {
			w := filepath.Join(tmp, v.Name+".wim")
			wimtest.Wimlib(t, append([]string{"capture", src, w, "img-" + v.Name, "--unix-data"}, v.Flags...)...)
			rd := wimtest.Open(t, w)
			res, err := r.Import(t.Context(), rd, w, ImportOptions{Host: "h"})
			if err != nil {
				t.Fatal(err)
			}
			var list []*Manifest
			for _, im := range res {
				list = append(list, im.Manifest)
			}
			if len(list) != 1 || list[0].Image.Name != "img-"+v.Name {
				t.Fatalf("imported %+v", list)
			}
			if got, want := counts(list[0].Summary), counts(snap.Manifest.Summary); got != want {
				t.Errorf("import counts dirs, files, symlinks, special, bytes: %v; a snapshot of the tree: %v", got, want)
			}
			stored += list[0].Summary.NewRaw
			if i > 0 && list[0].Summary.NewRaw > list[0].Metadata.Size {
				t.Errorf("a second import of the same tree stored %d bytes", list[0].Summary.NewRaw)
			}
			out := filepath.Join(tmp, "restore-"+v.Name)
			if _, err := r.Restore(t.Context(), list[0], out, RestoreOptions{}); err != nil {
				t.Fatal(err)
			}
			wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
			x := filepath.Join(tmp, "export-"+v.Name+".wim")
			if _, err := r.Export(t.Context(), list, x, ExportOptions{}); err != nil {
				t.Fatal(err)
			}
			wimtest.Wimlib(t, "verify", x)
			applied := filepath.Join(tmp, "apply-"+v.Name)
			wimtest.Wimlib(t, "apply", x, "1", applied, "--unix-data")
			wimtest.CompareTrees(t, src, applied, wimtest.CompareOptions{})
			if got := wimtest.Open(t, x).Image(1).Name; got != fmt.Sprint("img-", v.Name) {
				t.Errorf("exported image name %q", got)
			}
		})
	}
}

// TestImportAgain: importing the same WIM again passes over the images a
// snapshot holds already (an interrupted import run again completes
// without duplicates), and imports them anew with Again.
func TestImportAgain(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	writeFiles(t, src, map[string]string{"a.txt": "a", "d/b.txt": "b"})
	r := testRepo(t, wim.CompressXPRESS)
	m1 := snapshotOK(t, r, src, TakeOptions{}).Manifest
	writeFiles(t, src, map[string]string{"c.txt": "c"})
	m2 := snapshotOK(t, r, src, TakeOptions{}).Manifest
	w := filepath.Join(tmp, "two.wim")
	if _, err := r.Export(t.Context(), []*Manifest{m1, m2}, w, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	dst := testRepo(t, wim.CompressXPRESS)
	imp := func(opts ImportOptions) []Imported {
		t.Helper()
		res, err := dst.Import(t.Context(), wimtest.Open(t, w), w, opts)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := imp(ImportOptions{Images: []int{1}}) // as if stopped after image 1
	all := imp(ImportOptions{})
	if len(all) != 2 || !all[0].Existing || all[1].Existing || all[0].Manifest.ID != first[0].Manifest.ID || all[1].Image != 2 {
		t.Fatalf("import run again: %+v", all)
	}
	again := imp(ImportOptions{Again: true})
	if again[0].Existing || again[1].Existing || again[0].Manifest.ID == first[0].Manifest.ID {
		t.Fatalf("import with Again: %+v", again)
	}
	// Another tag or host is another snapshot, not the one there.
	for _, opts := range []ImportOptions{{Images: []int{1}, Tags: []string{"golden"}}, {Images: []int{1}, Host: "other"}} {
		if res := imp(opts); res[0].Existing {
			t.Errorf("import with %+v passed over the image", opts)
		}
	}
	if res := imp(ImportOptions{Images: []int{1}, Tags: []string{"golden", "golden"}}); !res[0].Existing {
		t.Error("the tagged import run again imported the image anew")
	}
	if list, err := dst.Snapshots(t.Context()); err != nil || len(list) != 6 {
		t.Errorf("%d snapshots (%v), want 6: two imported, then both again, then image 1 tagged and of another host", len(list), err)
	}
}

// TestImportExportXMLFields: an image's XML fields that DISM and wimlib
// set (name, description, display name and description, flags, the
// WINDOWS element, the creation time) come back unchanged in the export of
// its import, as from wimlib-imagex export, so a golden image exported
// from the repository shows in WDS and ConfigMgr as it did.
func TestImportExportXMLFields(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	writeFiles(t, src, map[string]string{"a.txt": "a"})
	w := filepath.Join(tmp, "golden.wim")
	wimtest.Wimlib(t, "capture", src, w, "Windows 10 Pro", "Golden image", "--flags=Professional")
	wimtest.Wimlib(t, "info", w, "1", "--image-property", "DISPLAYNAME=Windows 10 Pro (shown)",
		"--image-property", "DISPLAYDESCRIPTION=The customer's golden image", "--image-property", "WINDOWS/EDITIONID=Professional")
	r := testRepo(t, wim.CompressXPRESS)
	res, err := r.Import(t.Context(), wimtest.Open(t, w), w, ImportOptions{Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	x := filepath.Join(tmp, "export.wim")
	if _, err := r.Export(t.Context(), []*Manifest{res[0].Manifest}, x, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	want, got := wimtest.Open(t, w).Image(1), wimtest.Open(t, x).Image(1)
	fields := func(in wim.ImageInfo) []string {
		return []string{in.Name, in.Description, in.DisplayName, in.DisplayDescription, in.Flags, fmt.Sprint(in.Extra),
			in.CreationTime.Time().String()}
	}
	if g, w := fields(got), fields(want); !slices.Equal(g, w) {
		t.Errorf("exported name, description, display name, display description, flags, extra, creation time:\n%q\nimported from\n%q", g, w)
	}
}

// progressCalls records the calls of a Progress function.
type progressCalls [][2]int64

func (p *progressCalls) add(done, total int64) { *p = append(*p, [2]int64{done, total}) }

// check reports a run whose first call does not give the total, whose
// calls never fall inside a stream of size big (the WIM's one large file),
// or whose last call is not the total.
func (p progressCalls) check(t *testing.T, what string, big int64) {
	t.Helper()
	if len(p) == 0 || p[0][0] != 0 || p[0][1] < big {
		t.Errorf("%s: first progress %v, want none done of a total of at least %d", what, p, big)
		return
	}
	if last := p[len(p)-1]; last[0] != last[1] {
		t.Errorf("%s: last progress %v, want all done", what, last)
	}
	if !slices.ContainsFunc(p, func(c [2]int64) bool { return c[0] > 0 && c[0] < big }) {
		t.Errorf("%s: no progress while the %d-byte stream was read: %v", what, big, p)
	}
}

// TestImportExportProgress: import and export tell their Progress the
// total before the first stream ends and how far a large stream got while
// it is read (a WIM holding one large file showed "0 B of 0 B" until it
// was done), and end at the total, also when the repository has every
// stream or the image holds a stream twice.
func TestImportExportProgress(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	big := wimtest.RandomBytes(7, 1<<20)
	writeFiles(t, src, map[string]string{"big.bin": string(big), "copy.bin": string(big), "small.txt": "small"})
	w := filepath.Join(tmp, "one.wim")
	captureWIM(t, src, w, CaptureOptions{}, wim.WithCompression(wim.CompressLZX))
	r := testRepo(t, wim.CompressXPRESS)
	var list []*Manifest
	for _, name := range []string{"import", "import of what the repository has"} {
		var calls progressCalls
		res, err := r.Import(t.Context(), wimtest.Open(t, w), w, ImportOptions{Host: "h", Again: true,
			Progress: func(_ int, done, total int64) { calls.add(done, total) }})
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, res[0].Manifest)
		if name == "import" {
			calls.check(t, name, int64(len(big)))
		} else if len(calls) == 0 || calls[len(calls)-1][0] != calls[len(calls)-1][1] {
			t.Errorf("%s: progress %v, want it to end at the total", name, calls)
		}
	}
	var calls progressCalls
	if _, err := r.Export(t.Context(), list[:1], filepath.Join(tmp, "x.wim"), ExportOptions{Progress: calls.add}); err != nil {
		t.Fatal(err)
	}
	calls.check(t, "export", int64(len(big)))
}

// TestImportDamaged: a WIM whose file data is damaged fails to import with
// an error that names the WIM, as apply's do, the image, the file in the
// image and its stream (the stream's SHA-1 alone does not tell an admin
// which file of a golden image is bad), and leaves no snapshot.
func TestImportDamaged(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	victim := wimtest.RandomBytes(3, 64<<10)
	writeFiles(t, src, map[string]string{"ok.txt": "fine", "dir/victim.bin": string(victim)})
	w := filepath.Join(tmp, "damaged.wim")
	captureWIM(t, src, w, CaptureOptions{}, wim.WithCompression(wim.CompressNone))
	b, err := os.ReadFile(w)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(b, victim[:64])
	if at < 0 {
		t.Fatal("victim.bin's data is not in the WIM as it is")
	}
	b[at+40000] ^= 0xff
	if err := os.WriteFile(w, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := testRepo(t, wim.CompressXPRESS)
	_, err = r.Import(t.Context(), wimtest.Open(t, w), w, ImportOptions{Host: "h"})
	if want := w + ": image 1: /dir/victim.bin (stream "; !errors.Is(err, wim.ErrChecksum) || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("import of a damaged WIM: %v; want a checksum mismatch beginning %q", err, want)
	}
	if list, err := r.Snapshots(t.Context()); err != nil || len(list) != 0 {
		t.Errorf("%d snapshots (%v) after a failed import, want none", len(list), err)
	}
}

// TestImportImageTwice: an image named twice in one import (by number and
// by name) becomes one snapshot, not two alike, with Again too.
func TestImportImageTwice(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	writeFiles(t, src, map[string]string{"a.txt": "a"})
	w := filepath.Join(tmp, "one.wim")
	captureWIM(t, src, w, CaptureOptions{})
	r := testRepo(t, wim.CompressXPRESS)
	for _, again := range []bool{false, true} {
		res, err := r.Import(t.Context(), wimtest.Open(t, w), w, ImportOptions{Images: []int{1, 1}, Again: again})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0].Existing {
			t.Errorf("import of image 1 named twice (again %v): %+v, want one new snapshot", again, res)
		}
	}
	if list, err := r.Snapshots(t.Context()); err != nil || len(list) != 2 {
		t.Errorf("%d snapshots (%v), want 2: one per import", len(list), err)
	}
}

// TestImportMovedWIM: a WIM imported again from another path (moved, or
// copied) gives its unchanged images' snapshots, not new ones; Again still
// imports them anew.
func TestImportMovedWIM(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	writeFiles(t, src, map[string]string{"a.txt": "a"})
	r := testRepo(t, wim.CompressXPRESS)
	m := snapshotOK(t, r, src, TakeOptions{}).Manifest
	w := filepath.Join(tmp, "one.wim")
	if _, err := r.Export(t.Context(), []*Manifest{m}, w, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(tmp, "moved.wim")
	if err := os.Rename(w, moved); err != nil {
		t.Fatal(err)
	}
	dst := testRepo(t, wim.CompressXPRESS)
	first, err := dst.Import(t.Context(), wimtest.Open(t, moved), moved, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(moved, w); err != nil {
		t.Fatal(err)
	}
	res, err := dst.Import(t.Context(), wimtest.Open(t, w), w, ImportOptions{})
	if err != nil || !res[0].Existing || res[0].Manifest.ID != first[0].Manifest.ID {
		t.Fatalf("import of the moved WIM: %+v, %v; want snapshot %s", res, err, first[0].Manifest.ID)
	}
	res, err = dst.Import(t.Context(), wimtest.Open(t, w), w, ImportOptions{Again: true})
	if err != nil || res[0].Existing || res[0].Manifest.Source != w+"#1" {
		t.Fatalf("import with Again: %+v, %v", res, err)
	}
	// Both now match; the one of the same path is named.
	res, err = dst.Import(t.Context(), wimtest.Open(t, w), w, ImportOptions{})
	if err != nil || res[0].Manifest.Source != w+"#1" {
		t.Fatalf("import run again: %+v, %v; want the snapshot of %s#1", res, err, w)
	}
}

// TestTreeNamedLikeImport: a directory named as an import's source
// ("x.wim#1") is a source of its own: its snapshot takes no imported image
// as its parent, and its SourceKey differs from the import's. A manifest
// without Kind (an older build's) whose source ends as an import's counts
// as an import, so that an older repository groups as before.
func TestTreeNamedLikeImport(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	writeFiles(t, src, map[string]string{"a.txt": "a"})
	r := testRepo(t, wim.CompressXPRESS)
	m := snapshotOK(t, r, src, TakeOptions{}).Manifest
	w := filepath.Join(tmp, "x.wim")
	if _, err := r.Export(t.Context(), []*Manifest{m}, w, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := r.Import(t.Context(), wimtest.Open(t, w), w, ImportOptions{Host: m.Host})
	if err != nil {
		t.Fatal(err)
	}
	imp := res[0].Manifest
	dir := w + "#1"
	writeFiles(t, dir, map[string]string{"b.txt": "b"})
	tree := snapshotOK(t, r, dir, TakeOptions{Host: m.Host}).Manifest
	if tree.Source != imp.Source || tree.Parent != "" || !imp.IsImport() || tree.IsImport() || tree.SourceKey() == imp.SourceKey() {
		t.Fatalf("tree %s (parent %q, key %q), import %s (key %q)", tree.Source, tree.Parent, tree.SourceKey(), imp.Source, imp.SourceKey())
	}
	if res, err := r.Import(t.Context(), wimtest.Open(t, w), w, ImportOptions{Host: m.Host}); err != nil || res[0].Manifest.ID != imp.ID {
		t.Fatalf("import run again: %+v, %v", res, err)
	}
	for _, c := range []struct {
		m        Manifest
		isImport bool
		key      string
	}{
		{Manifest{Source: "/w/x.wim#1"}, true, "/w/x.wim#1"},
		{Manifest{Source: "/w/x.wim#12"}, true, "/w/x.wim#12"},
		{Manifest{Source: "/w/x#"}, false, "/w/x#"},
		{Manifest{Source: "/w/x#a1"}, false, "/w/x#a1"},
		{Manifest{Source: "/w/x.wim#1", Kind: KindTree}, false, "/w/x.wim#1/"},
		{Manifest{Source: "/w/x.wim#1", Kind: KindImport}, true, "/w/x.wim#1"},
		{Manifest{Source: "/srv", Kind: KindTree}, false, "/srv"},
	} {
		if got, key := c.m.IsImport(), c.m.SourceKey(); got != c.isImport || key != c.key {
			t.Errorf("%+v: IsImport %v, SourceKey %q; want %v, %q", c.m, got, key, c.isImport, c.key)
		}
	}
}

// TestImportSolidOrder: import reads the streams of a solid WIM in the
// order of their bytes in its solid resources, the others first: read in
// the tree's order, a solid WIM of more chunks than the Reader caches
// decompressed each chunk again for every stream (over a minute for
// 190 MB).
func TestImportSolidOrder(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	files := map[string]string{}
	for i := range 64 {
		files[fmt.Sprintf("d%d/f%d", i%7, (i*37)%64)] = strings.Repeat(fmt.Sprintf("file %d ", i), 500+i)
	}
	writeFiles(t, src, files)
	w := filepath.Join(tmp, "solid.wim")
	wimtest.Wimlib(t, "capture", src, w, "--solid", "--solid-chunk-size=4096", "--solid-compress=xpress")
	rd := wimtest.Open(t, w)
	md, err := rd.Metadata(1)
	if err != nil {
		t.Fatal(err)
	}
	var streams []wim.Stream
	md.Streams(func(s *wim.Stream) {
		if !s.Hash.IsZero() {
			streams = append(streams, *s)
		}
	})
	solidOrder(rd, streams)
	last := -1
	for i, s := range streams {
		rank, solid := rd.SolidOrder(s.Hash)
		if !solid || rank < last {
			t.Fatalf("stream %d: rank %d (solid %v) after rank %d", i, rank, solid, last)
		}
		last = rank
	}
	if len(streams) < 64 {
		t.Fatalf("%d streams, want 64", len(streams))
	}
}
