//go:build unix

package snapshot

import (
	"fmt"
	"path/filepath"
	"slices"
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
// WINDOWS element) come back unchanged in the export of its import, so a
// golden image exported from the repository shows in WDS and ConfigMgr as
// it did.
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
		return []string{in.Name, in.Description, in.DisplayName, in.DisplayDescription, in.Flags, fmt.Sprint(in.Extra)}
	}
	if g, w := fields(got), fields(want); !slices.Equal(g, w) {
		t.Errorf("exported name, description, display name, display description, flags, extra:\n%q\nimported from\n%q", g, w)
	}
}
