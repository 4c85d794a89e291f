//go:build unix && wimlib

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// exportImageJSON runs export-image with --json and returns its document.
func exportImageJSON(t *testing.T, args ...string) exportImageSummary {
	t.Helper()
	var sum exportImageSummary
	out := runAppOK(t, nil, append([]string{"export-image", "--json"}, args...)...)
	must(t, json.Unmarshal([]byte(out), &sum))
	return sum
}

// checkExported has wimlib-imagex verify w and checks that it lists the
// images names with the boot index boot, and that image k of w applies,
// with wimlib-imagex apply --unix-data and with wimsnap apply, as image
// from[k] of src does (0: not checked).
func checkExported(t *testing.T, w string, names []string, boot string, src string, from []int) {
	t.Helper()
	wimtest.Wimlib(t, "verify", w)
	if got := wimlibImages(t, w); strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("wimlib-imagex lists images %q, want %q", got, names)
	}
	if got := wimlibBootIndex(t, w); got != boot {
		t.Errorf("boot index %s, want %s", got, boot)
	}
	for k, i := range from {
		if i == 0 {
			continue
		}
		tmp := t.TempDir()
		want, got, ours := filepath.Join(tmp, "want"), filepath.Join(tmp, "got"), filepath.Join(tmp, "ours")
		wimtest.Wimlib(t, "apply", src, fmt.Sprint(i), want, "--unix-data")
		wimtest.Wimlib(t, "apply", w, fmt.Sprint(k+1), got, "--unix-data")
		runAppOK(t, nil, "apply", w, fmt.Sprint(k+1), ours)
		wimtest.CompareTrees(t, want, got, wimtest.CompareOptions{})
		wimtest.CompareTrees(t, want, ours, wimtest.CompareOptions{})
	}
}

// TestOracleExportImageNew exports images of a wimlib-imagex WIM into new
// WIMs: one image with --boot, a --name and a --description; every image,
// where --boot follows the source's boot image; without --boot the boot
// index is 0. The streams are copied as wimlib-imagex stored them, and
// the XML (description, flags) is carried over.
func TestOracleExportImageNew(t *testing.T) {
	tmp := t.TempDir()
	src, _ := threeImageWIM(t, tmp)
	wimtest.Wimlib(t, "info", src, "3", "--image-property", "DESCRIPTION=third", "--image-property", "FLAGS=Professional",
		"--image-property", "DISPLAYNAME=Shown C", "--image-property", "WINDOWS/EDITIONID=Professional",
		"--image-property", "WINDOWS/VERSION/BUILD=22631")

	one := filepath.Join(tmp, "one.wim")
	sum := exportImageJSON(t, src, "c", one, "--boot", "--name=C", "--description=renamed")
	if !sum.Created || sum.Images != 1 || sum.BootIndex != 1 || len(sum.Exported) != 1 || sum.Exported[0].SourceIndex != 3 {
		t.Errorf("--json: %+v", sum)
	}
	checkExported(t, one, []string{"C"}, "1", src, []int{3})
	if info := wimtest.Wimlib(t, "info", one, "1"); !strings.Contains(info, "renamed") || !strings.Contains(info, "Professional") {
		t.Errorf("the description or the flags were not carried over:\n%s", info)
	}
	info := strings.Join(strings.Fields(wimtest.Wimlib(t, "info", one, "1")), " ")
	for _, want := range []string{"Display Name: Shown C", "Edition ID: Professional", "Build: 22631"} {
		if !strings.Contains(info, want) {
			t.Errorf("wimlib-imagex info lacks %q:\n%s", want, info)
		}
	}

	all := filepath.Join(tmp, "all.wim")
	exportImageJSON(t, src, "all", all, "--boot")
	checkExported(t, all, []string{"a", "b", "c"}, "2", src, []int{1, 2, 3})
	if info := wimtest.Wimlib(t, "info", all, "3"); !strings.Contains(info, "third") {
		t.Errorf("the description was not carried over:\n%s", info)
	}
	if info := wimtest.Wimlib(t, "info", all, "2"); !strings.Contains(info, "b") {
		t.Errorf("image 2 is not b:\n%s", info)
	}

	two := filepath.Join(tmp, "two.wim")
	exportImageJSON(t, src, "3", "a", two)
	checkExported(t, two, []string{"c", "a"}, "0", src, []int{3, 1})
}

// TestOracleExportImageExisting gathers images into an existing WIM of
// wimlib-imagex's: they get the next indexes, keep the integrity table,
// and the data DEST holds already is not stored again (DEST grows by
// about the new images' own data); --boot moves the boot index to the
// exported image. SRC may be DEST itself, under another name; an image of
// another WIM adds only the data DEST lacks.
func TestOracleExportImageExisting(t *testing.T) {
	tmp := t.TempDir()
	src, trees := threeImageWIM(t, tmp)
	dest := filepath.Join(tmp, "dest.wim")
	wimtest.Wimlib(t, "export", src, "1", dest, "--check")
	st, err := os.Stat(dest)
	must(t, err)
	sum := exportImageJSON(t, src, "b", "c", dest, "--boot")
	if sum.Created || sum.Images != 3 || sum.BootIndex != 2 || sum.OldBytes != st.Size() {
		t.Errorf("--json: %+v", sum)
	}
	// Images b and c have 200 KiB of incompressible data each of their own.
	if grew := sum.NewBytes - sum.OldBytes; grew < 400<<10 || grew > 400<<10+64<<10 {
		t.Errorf("DEST grew by %d bytes, want about the 400 KiB of new data", grew)
	}
	checkExported(t, dest, []string{"a", "b", "c"}, "2", src, []int{1, 2, 3})
	if info := wimtest.Wimlib(t, "info", dest); !strings.Contains(info, "Integrity info") {
		t.Errorf("the integrity table was dropped:\n%s", info)
	}
	// All shared: only metadata and tables are added.
	sum = exportImageJSON(t, src, "2", dest, "--name=b again")
	if grew := sum.NewBytes - sum.OldBytes; sum.StreamBytes != 0 || grew > 64<<10 {
		t.Errorf("exporting an image whose streams DEST holds copied %d stream bytes, grew %d bytes", sum.StreamBytes, grew)
	}
	sum = exportImageJSON(t, dest, "1", dest, "--name=a again")
	if sum.Images != 5 || sum.BootIndex != 2 || sum.StreamBytes != 0 {
		t.Errorf("export into the same file: %+v", sum)
	}
	checkExported(t, dest, []string{"a", "b", "c", "b again", "a again"}, "2", src, []int{1, 2, 3, 2, 1})
	// From another WIM, with a file DEST lacks and files it holds.
	other := filepath.Join(tmp, "other.wim")
	writeFile(t, trees["a"], "new.bin", wimtest.RandomBytes(9, 100<<10))
	wimtest.Wimlib(t, "capture", trees["a"], other, "a2", "--compress=lzx")
	sum = exportImageJSON(t, other, "a2", dest)
	if grew := sum.NewBytes - sum.OldBytes; sum.StreamBytes != 100<<10 || grew > 100<<10+64<<10 {
		t.Errorf("an image of another WIM with 100 KiB of new data: copied %d stream bytes, DEST grew %d bytes", sum.StreamBytes, grew)
	}
	checkExported(t, dest, []string{"a", "b", "c", "b again", "a again", "a2"}, "2", other, []int{0, 0, 0, 0, 0, 1})
}

// TestOracleExportImageSolid exports the images of a wimlib-imagex --solid
// (LZMS, as an install.esd) WIM into a new WIM, LZX by default, and
// into an XPRESS one with --compress: the streams are decompressed and
// compressed again, and the images apply as the source's.
func TestOracleExportImageSolid(t *testing.T) {
	tmp := t.TempDir()
	tree := filepath.Join(tmp, "tree")
	wimtest.MakeTree(t, tree, wimtest.TreeOptions{})
	src := filepath.Join(tmp, "install.esd")
	wimtest.Wimlib(t, "capture", tree, src, "Pro", "--solid", "--unix-data")
	wimtest.Wimlib(t, "append", filepath.Join(tmp, "tree"), src, "Home", "--solid", "--unix-data")
	lzx := filepath.Join(tmp, "install.wim")
	if sum := exportImageJSON(t, src, "Home", lzx); sum.Compression != "lzx" {
		t.Errorf("compression %s, want lzx", sum.Compression)
	}
	checkExported(t, lzx, []string{"Home"}, "0", src, []int{2})
	if info := wimtest.Wimlib(t, "info", lzx); !strings.Contains(info, "LZX") {
		t.Errorf("not an LZX WIM:\n%s", info)
	}
	xp := filepath.Join(tmp, "xpress.wim")
	exportImageJSON(t, src, "all", xp, "--compress=xpress", "--threads=2")
	checkExported(t, xp, []string{"Pro", "Home"}, "0", src, []int{1, 2})
	// Into the existing LZX WIM, which holds every stream of Pro already.
	if sum := exportImageJSON(t, src, "Pro", lzx); sum.StreamBytes != 0 || sum.Compression != "lzx" {
		t.Errorf("Pro, whose streams the LZX WIM holds, into it: %+v", sum)
	}
	checkExported(t, lzx, []string{"Home", "Pro"}, "0", src, []int{2, 1})
	// From XPRESS into an existing LZX WIM that lacks the streams.
	other, small := filepath.Join(tmp, "other.wim"), filepath.Join(tmp, "small")
	writeFile(t, small, "f.txt", []byte("small"))
	wimtest.Wimlib(t, "capture", small, other, "small", "--compress=lzx")
	if sum := exportImageJSON(t, xp, "Home", other, "--boot"); sum.StreamBytes == 0 || sum.BootIndex != 2 {
		t.Errorf("Home from XPRESS into LZX: %+v", sum)
	}
	checkExported(t, other, []string{"small", "Home"}, "2", src, []int{0, 2})
}

// TestOracleExportImageErrors: an IMAGE the source lacks, a name DEST has
// (also when DEST is the source, which wimlib-imagex refuses the same
// way), --name with several images, another --compress for an existing
// DEST and --boot with no boot image among several are usage errors (exit
// 2); a DEST another process holds locked, a part of a split DEST, and a
// pipable DEST or one of chunks over 2 MiB (which the append writer
// refuses), are refused with exit 1. DEST is left as it was each time.
func TestOracleExportImageErrors(t *testing.T) {
	tmp := t.TempDir()
	src, _ := threeImageWIM(t, tmp)
	dest := filepath.Join(tmp, "dest.wim")
	exportImageJSON(t, src, "a", dest)
	wimtest.Wimlib(t, "split", src, filepath.Join(tmp, "part.swm"), "0.1")
	pipable, chunks := filepath.Join(tmp, "pipable.wim"), filepath.Join(tmp, "chunks.wim")
	wimtest.Wimlib(t, "export", src, "1", pipable, "--pipable")
	wimtest.Wimlib(t, "export", src, "1", chunks, "--compress=lzms", "--chunk-size=4M")
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown image", []string{src, "9", dest}, exitUsage, "image 9: wim: no such image"},
		{"unknown name", []string{src, "nope", dest}, exitUsage, `image "nope"`},
		{"name taken", []string{src, "1", dest}, exitUsage, `image name "a" is already used by image 1 of the destination`},
		{"same file", []string{dest, "1", dest}, exitUsage, `image name "a" is already used`},
		{"name twice", []string{src, "2", "b", dest}, exitUsage, "named twice"},
		{"name of several", []string{src, "2", "3", dest, "--name=x"}, exitUsage, "need one IMAGE"},
		{"codec", []string{src, "2", dest, "--compress=xpress"}, exitUsage, "which export-image keeps"},
		{"boot of several", []string{src, "3", "1", filepath.Join(tmp, "new.wim"), "--boot"}, exitUsage, "boot image, 2, is not among"},
		{"split dest", []string{src, "2", filepath.Join(tmp, "part.swm")}, exitFailure, "split WIM"},
		{"pipable dest", []string{src, "2", pipable}, exitFailure, "appending to a pipable WIM"},
		{"4 MiB chunks dest", []string{src, "2", chunks}, exitFailure, "appending to a WIM with 4194304-byte chunks"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before, err := os.ReadFile(dest)
			must(t, err)
			code, _, stderr := runApp(t, nil, append([]string{"export-image"}, c.args...)...)
			if code != c.code || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, c.code, c.want)
			}
			if after, err := os.ReadFile(dest); err != nil || string(after) != string(before) {
				t.Errorf("DEST changed (%v)", err)
			}
		})
	}
	f, err := os.OpenFile(dest, os.O_RDWR, 0)
	must(t, err)
	must(t, lockWIM(f, dest))
	code, _, stderr := runApp(t, nil, "export-image", src, "2", dest)
	if code != exitFailure || !strings.Contains(stderr, "another process is writing this WIM") {
		t.Errorf("locked DEST: exit %d, stderr %q; want exit 1", code, stderr)
	}
	closeRead(f)
	exportImageJSON(t, src, "2", dest)
	wimtest.Wimlib(t, "verify", dest)
}

// TestOracleExportImageCopiesStored: the streams of an image exported in
// the source's codec are copied as wimlib-imagex compressed them, not
// compressed again: every data blob has the compressed size it had, one
// wimlib-imagex stored uncompressed too (it gained a chunk table).
func TestOracleExportImageCopiesStored(t *testing.T) {
	tmp := t.TempDir()
	src, dir := filepath.Join(tmp, "s.wim"), filepath.Join(tmp, "a")
	text := strings.Repeat("compressible text, ", 20000)
	writeFile(t, dir, "text.txt", []byte(text))
	writeFile(t, dir, "mixed.bin", append(wimtest.RandomBytes(1, 50<<10), text...))
	// Stored uncompressed by wimlib-imagex, which gains nothing from LZX.
	writeFile(t, dir, "random.bin", wimtest.RandomBytes(2, 200<<10))
	wimtest.Wimlib(t, "capture", dir, src, "a", "--compress=lzx")
	dest := filepath.Join(tmp, "d.wim")
	exportImageJSON(t, src, "1", dest)
	before, after := wimlibDataBlobs(t, src), wimlibDataBlobs(t, dest)
	if len(after) != 3 {
		t.Fatalf("%d data blobs, want 3", len(after))
	}
	for h, size := range after {
		if before[h] != size {
			t.Errorf("blob %s: compressed to %s, was %s: recompressed", h, size, before[h])
		}
	}
	checkExported(t, dest, []string{"a"}, "0", src, []int{1})
}

// TestOracleExportImageSplit exports images of a split WIM of
// wimlib-imagex's, found by the parts' names or given with --ref, into a
// new WIM and into an existing one.
func TestOracleExportImageSplit(t *testing.T) {
	tmp := t.TempDir()
	src, _ := threeImageWIM(t, tmp)
	part := filepath.Join(tmp, "part.swm")
	wimtest.Wimlib(t, "split", src, part, "0.1")
	dest := filepath.Join(tmp, "d.wim")
	exportImageJSON(t, part, "b", dest, "--boot")
	checkExported(t, dest, []string{"b"}, "1", src, []int{2})
	moved := filepath.Join(tmp, "moved")
	must(t, os.Mkdir(moved, 0o755))
	parts, err := filepath.Glob(filepath.Join(tmp, "part*.swm"))
	must(t, err)
	first := filepath.Join(moved, "first.swm")
	for k, p := range parts {
		to := filepath.Join(moved, fmt.Sprintf("other-%d.swm", k))
		if p == part {
			to = first
		}
		must(t, os.Rename(p, to))
	}
	code, _, stderr := runApp(t, nil, "export-image", first, "c", dest)
	if code != exitFailure || !strings.Contains(stderr, "part") {
		t.Errorf("a split WIM whose parts are not found: exit %d, stderr %q", code, stderr)
	}
	exportImageJSON(t, first, "c", dest, "--ref="+filepath.Join(moved, "other-*.swm"))
	checkExported(t, dest, []string{"b", "c"}, "1", src, []int{2, 3})
}
