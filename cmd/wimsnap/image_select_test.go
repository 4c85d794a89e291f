//go:build unix

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestDuplicateImageNames: a WIM whose two images share a name (wimlib
// and DISM read one; wimlib refuses only to make one) passes verify,
// optimize keeps both names in place and with --output, wimlib reads the
// result, an image picked by that name is a usage error that asks for an
// index, and append still refuses to add a third.
func TestDuplicateImageNames(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "a.txt", []byte("hello"))
	w := filepath.Join(dir, "dup.wim")
	runAppOK(t, nil, "capture", src, w, "--name=one")
	runAppOK(t, nil, "append", src, w, "--name=two")
	renameInXML(t, w, "two", "one")

	runAppOK(t, nil, "verify", w)
	out := filepath.Join(dir, "out.wim")
	runAppOK(t, nil, "optimize", w, "--output="+out)
	runAppOK(t, nil, "optimize", w, "--compress=none")
	for _, f := range []string{w, out} {
		wimtest.Wimlib(t, "verify", f)
		if r := wimtest.Open(t, f); r.ImageCount() != 2 || r.Image(1).Name != "one" || r.Image(2).Name != "one" {
			t.Errorf("%s: images %+v, want two named one", f, r.Images())
		}
	}
	for _, args := range [][]string{
		{"dir", w, "one"},
		{"apply", w, "one", filepath.Join(dir, "target")},
		{"optimize", w, "--output=" + filepath.Join(dir, "one.wim"), "--image=one"},
	} {
		code, _, errb := runApp(t, nil, args...)
		if code != exitUsage || !strings.Contains(errb, "images 1 and 2 have that name") {
			t.Errorf("wimsnap %s: exit %d, want %d naming both images: %s", strings.Join(args, " "), code, exitUsage, errb)
		}
	}
	runAppOK(t, nil, "dir", w, "2")
	if code, _, errb := runApp(t, nil, "append", src, w, "--name=one"); code != exitUsage {
		t.Errorf("append of a third image named one: exit %d, want %d: %s", code, exitUsage, errb)
	}
}

// renameInXML renames the image called from to to in the XML of the WIM
// at name, in place; the names must be as long as each other.
func renameInXML(t *testing.T, name, from, to string) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	old, repl := utf16le("<NAME>"+from+"</NAME>"), utf16le("<NAME>"+to+"</NAME>")
	if bytes.Count(b, old) != 1 || len(old) != len(repl) {
		t.Fatalf("%s: cannot rename %q to %q in its XML", name, from, to)
	}
	must(t, os.WriteFile(name, bytes.Replace(b, old, repl, 1), 0o644))
}

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

// TestEmptyWIMExit: of a WIM that holds no image (wimlib-imagex delete
// makes one), an image is a usage error (exit 2) whether it is named or
// left out, as one the WIM does not hold; info and verify still work.
func TestEmptyWIMExit(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "a.txt", []byte("hello"))
	w := filepath.Join(dir, "empty.wim")
	runAppOK(t, nil, "capture", src, w)
	wimtest.Wimlib(t, "delete", w, "all")
	for _, args := range [][]string{
		{"dir", w}, {"dir", w, "1"}, {"--json", "dir", w},
		{"apply", w, filepath.Join(dir, "target")},
		{"extract", w, "1", "/a.txt", "--dest-dir=" + filepath.Join(dir, "target")},
	} {
		code, _, errb := runApp(t, nil, args...)
		if code != exitUsage || !strings.Contains(errb, "no such image") {
			t.Errorf("wimsnap %s: exit %d, want %d: %s", strings.Join(args, " "), code, exitUsage, errb)
		}
	}
	runAppOK(t, nil, "info", w)
	runAppOK(t, nil, "verify", w)
}
