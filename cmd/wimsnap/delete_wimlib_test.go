//go:build unix && wimlib

package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// threeImageWIM has wimlib-imagex capture the trees a, b and c (each with
// a file of its own, a, b and c.txt, of distinct random bytes) into
// tmp/w.wim as images "a", "b" (the boot image) and "c", with an
// integrity table. It returns the WIM and the trees by name.
func threeImageWIM(t *testing.T, tmp string) (string, map[string]string) {
	t.Helper()
	w := filepath.Join(tmp, "w.wim")
	trees := map[string]string{}
	for k, name := range []string{"a", "b", "c"} {
		dir := filepath.Join(tmp, "src", name)
		writeFile(t, dir, name+".txt", wimtest.RandomBytes(uint64(k+1), 200<<10))
		writeFile(t, dir, "shared.txt", []byte("in every image"))
		trees[name] = dir
		args := []string{"append", dir, w, name, "--check"}
		switch name {
		case "a":
			args[0] = "capture"
		case "b":
			args = append(args, "--boot")
		}
		wimtest.Wimlib(t, args...)
	}
	return w, trees
}

// wimlibImages returns the names of the images of w, in index order, as
// wimlib-imagex info lists them.
func wimlibImages(t *testing.T, w string) []string {
	t.Helper()
	names := []string{}
	for _, line := range strings.Split(wimtest.Wimlib(t, "info", w), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "Name" {
			names = append(names, strings.TrimSpace(v))
		}
	}
	return names
}

// checkOracleImages has wimlib-imagex verify w and checks that it holds
// the images names (in order), with the boot index boot, an integrity
// table and the GUID guid, and that each image applies as the tree it was
// captured from.
func checkOracleImages(t *testing.T, w string, trees map[string]string, names []string, boot string, guid [16]byte) {
	t.Helper()
	wimtest.Wimlib(t, "verify", w)
	if got := wimtest.Open(t, w).Header().GUID; got != guid {
		t.Errorf("GUID %x, want the WIM's own %x", got, guid)
	}
	if got := wimlibImages(t, w); strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("wimlib-imagex lists images %q, want %q", got, names)
	}
	if got := wimlibBootIndex(t, w); got != boot {
		t.Errorf("boot index %s, want %s", got, boot)
	}
	if info := wimtest.Wimlib(t, "info", w); !strings.Contains(info, "Integrity info") {
		t.Errorf("the integrity table was dropped:\n%s", info)
	}
	for i, name := range names {
		out := filepath.Join(t.TempDir(), "out")
		wimtest.Wimlib(t, "apply", w, fmt.Sprint(i+1), out)
		wimtest.CompareTrees(t, trees[name], out, wimtest.CompareOptions{IgnoreOwners: true, IgnoreRoot: true})
	}
}

// modifiedTimes maps each image name of w to its modification time.
func modifiedTimes(t *testing.T, w string) map[string]wim.Filetime {
	t.Helper()
	times := map[string]wim.Filetime{}
	for _, info := range wimtest.Open(t, w).Images() {
		times[info.Name] = info.ModificationTime
	}
	return times
}

// checkModifiedTimes checks that the images of w have the modification
// times of the same names in want: a rebuild, as wimlib's, keeps them.
func checkModifiedTimes(t *testing.T, w string, want map[string]wim.Filetime) {
	t.Helper()
	for name, got := range modifiedTimes(t, w) {
		if got != want[name] {
			t.Errorf("image %q: modified %v, was %v", name, got.Time(), want[name].Time())
		}
	}
}

// TestOracleDelete deletes images from a WIM of wimlib-imagex's: the rest
// are renumbered, the boot index follows its image (0 when it is the one
// deleted), the integrity table stays, wimlib-imagex verifies the result
// and applies every remaining image as it was captured (its modification
// time kept, as wimlib-imagex keeps it), and the deleted
// images' own streams are gone from the file. Deleting every image leaves
// a WIM of none, as wimlib-imagex delete does.
func TestOracleDelete(t *testing.T) {
	for _, c := range []struct {
		name  string
		args  []string
		names []string
		boot  string
	}{
		{"before the boot image", []string{"a"}, []string{"b", "c"}, "1"},
		{"after the boot image", []string{"3"}, []string{"a", "b"}, "2"},
		{"the boot image", []string{"b"}, []string{"a", "c"}, "0"},
		{"two", []string{"3", "a"}, []string{"b"}, "1"},
		{"all", []string{"all"}, []string{}, "0"},
		{"each", []string{"1", "2", "c"}, []string{}, "0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tmp := t.TempDir()
			w, trees := threeImageWIM(t, tmp)
			modified, guid := modifiedTimes(t, w), wimtest.Open(t, w).Header().GUID
			var sum deleteSummary
			out := runAppOK(t, nil, append([]string{"delete", w, "--json"}, c.args...)...)
			must(t, json.Unmarshal([]byte(out), &sum))
			if sum.Images != len(c.names) || fmt.Sprint(sum.BootIndex) != c.boot {
				t.Errorf("--json: %d images, boot index %d; want %d, %s", sum.Images, sum.BootIndex, len(c.names), c.boot)
			}
			checkOracleImages(t, w, trees, c.names, c.boot, guid)
			checkModifiedTimes(t, w, modified)
			// Each image has 200 KiB of incompressible data of its own.
			if gone := 3 - len(c.names); sum.OldBytes-sum.NewBytes < int64(gone)*200<<10 {
				t.Errorf("%d -> %d bytes: the deleted images' streams were kept", sum.OldBytes, sum.NewBytes)
			}
		})
	}
}

// TestOracleRenameImage renames and describes an image with info --name
// and --description: wimlib-imagex reads the new name and description,
// the other images, the boot index and the modification times are as
// they were, and the WIM
// verifies and applies as before. A name another image has is refused
// with exit code 2 and the file left alone; an image may keep its own.
func TestOracleRenameImage(t *testing.T) {
	tmp := t.TempDir()
	w, trees := threeImageWIM(t, tmp)
	modified, guid := modifiedTimes(t, w), wimtest.Open(t, w).Header().GUID
	modified["renamed"] = modified["c"]
	trees["renamed"] = trees["c"]
	out := runAppOK(t, nil, "info", w, "c", "--name=renamed", "--description=new text", "--json")
	var doc infoJSON
	must(t, json.Unmarshal([]byte(out), &doc))
	if len(doc.Images) != 1 || doc.Images[0].Index != 3 || doc.Images[0].Name != "renamed" {
		t.Errorf("--json shows %+v, want image 3 named renamed", doc.Images)
	}
	checkOracleImages(t, w, trees, []string{"a", "b", "renamed"}, "2", guid)
	checkModifiedTimes(t, w, modified)
	if info := wimtest.Wimlib(t, "info", w, "3"); !strings.Contains(info, "new text") {
		t.Errorf("wimlib-imagex shows no new description:\n%s", info)
	}
	code, _, errb := runApp(t, nil, "info", w, "1", "--name=b")
	if code != exitUsage || !strings.Contains(errb, `image name "b" is already used by image 2`) {
		t.Errorf("rename to a taken name: exit %d, stderr %q; want exit 2", code, errb)
	}
	runAppOK(t, nil, "info", w, "2", "--name=b", "--description=boot")
	checkOracleImages(t, w, trees, []string{"a", "b", "renamed"}, "2", guid)
}

// TestOracleDeleteCopiesStored: delete copies the streams it keeps as
// wimlib-imagex compressed them (as wimlib-imagex delete does), rather
// than decompressing and compressing each again, which took minutes for
// an install.wim: every data blob left has the compressed size it had.
func TestOracleDeleteCopiesStored(t *testing.T) {
	tmp := t.TempDir()
	w := filepath.Join(tmp, "s.wim")
	text := strings.Repeat("compressible text, ", 20000)
	for k, name := range []string{"a", "b"} {
		dir := filepath.Join(tmp, name)
		writeFile(t, dir, "text.txt", []byte(text+name))
		writeFile(t, dir, "mixed.bin", append(wimtest.RandomBytes(uint64(k), 50<<10), text...))
		cmd := "append"
		if k == 0 {
			cmd = "capture"
		}
		wimtest.Wimlib(t, cmd, dir, w, name, "--compress=lzx")
	}
	before := wimlibDataBlobs(t, w)
	runAppOK(t, nil, "delete", w, "b")
	after := wimlibDataBlobs(t, w)
	if len(after) != 2 {
		t.Fatalf("%d data blobs after the delete, want image a's 2", len(after))
	}
	for h, size := range after {
		if before[h] != size {
			t.Errorf("blob %s: compressed to %s, was %s: recompressed", h, size, before[h])
		}
	}
	wimtest.Wimlib(t, "verify", w)
}

// wimlibDataBlobs maps the hash of each blob of w but metadata resources
// to its compressed size, as wimlib-imagex info --blobs shows them.
func wimlibDataBlobs(t *testing.T, w string) map[string]string {
	t.Helper()
	blobs := map[string]string{}
	for _, entry := range strings.Split(wimtest.Wimlib(t, "info", w, "--blobs"), "\n\n") {
		fields := map[string]string{}
		for _, line := range strings.Split(entry, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		if h := fields["Hash"]; h != "" && !strings.Contains(fields["Flags"], "METADATA") {
			blobs[h] = fields["Compressed size"]
		}
	}
	return blobs
}

// TestOracleDeletePipable: an image deleted from a pipable WIM of
// wimlib-imagex's (whose chunks are laid out otherwise, so they are
// recompressed rather than copied as stored) leaves a WIM that
// wimlib-imagex verifies and applies.
func TestOracleDeletePipable(t *testing.T) {
	tmp := t.TempDir()
	w := filepath.Join(tmp, "p.wim")
	for k, name := range []string{"a", "b"} {
		dir := filepath.Join(tmp, name)
		writeFile(t, dir, name+".txt", wimtest.RandomBytes(uint64(k), 100<<10))
		cmd := "append"
		if k == 0 {
			cmd = "capture"
		}
		wimtest.Wimlib(t, cmd, dir, w, name, "--pipable")
	}
	runAppOK(t, nil, "delete", w, "a")
	wimtest.Wimlib(t, "verify", w)
	out := filepath.Join(tmp, "out")
	wimtest.Wimlib(t, "apply", w, "b", out)
	wimtest.CompareTrees(t, filepath.Join(tmp, "b"), out, wimtest.CompareOptions{IgnoreOwners: true, IgnoreRoot: true})
}
