//go:build unix

package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
)

// TestImportDroppedEntries: a WIM whose image names two siblings alike (as
// another tool may write it; wimlib-imagex leaves the second out) imports
// with a warning naming the image and exit 3, and check notes it but finds
// no problem. The import said nothing and exited 0, and every later check
// called the repository damaged (exit 1), which no repair could mend.
func TestImportDroppedEntries(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache"), "HOME": dir}
	runAppOK(t, env, "init")
	src, w := filepath.Join(dir, "src"), filepath.Join(dir, "x.wim")
	writeFile(t, src, "d1", []byte("one"))
	writeFile(t, src, "d2", []byte("two"))
	runAppOK(t, env, "capture", src, w, "--compress=none")
	renameInWIM(t, w, "d2", "d1")

	code, out, _ := runApp(t, env, "import", w, "--json")
	var doc struct {
		Snapshots []importedJSON `json:"snapshots"`
		Warnings  []warning      `json:"warnings"`
	}
	must(t, json.Unmarshal([]byte(out), &doc))
	if code != exitPartial || len(doc.Snapshots) != 1 || len(doc.Warnings) != 1 ||
		doc.Warnings[0].Path != w+"#1" || !strings.Contains(doc.Warnings[0].Error, "1 entry of the image left out") {
		t.Fatalf("import: exit %d, %s; want exit %d, one warning naming %s#1", code, out, exitPartial, w)
	}
	out = runAppOK(t, env, "check")
	if !strings.Contains(out, "note: snapshot "+doc.Snapshots[0].Snapshot[:8]+": 1 entry of the image left out") ||
		!strings.Contains(out, "no problems found") {
		t.Errorf("check: %q; want the entry noted, no problem", out)
	}
}

// renameInWIM renames the entry old (ASCII, of the root) of the one image
// of the uncompressed WIM at path to name, a name as long, and writes the
// metadata's new SHA-1 over the old one in the lookup table.
func renameInWIM(t *testing.T, path, old, name string) {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	r, err := wim.NewReader(bytes.NewReader(b), int64(len(b)))
	must(t, err)
	meta, err := r.RawMetadata(1)
	must(t, err)
	utf16 := func(s string) []byte {
		var u []byte
		for _, c := range []byte(s) {
			u = append(u, c, 0)
		}
		return u
	}
	at := bytes.Index(b, meta)
	if at < 0 || bytes.Count(meta, utf16(old)) != 1 {
		t.Fatalf("the metadata is not stored as it is, or does not name %s once", old)
	}
	sum := sha1.Sum(meta)
	newMeta := bytes.Replace(meta, utf16(old), utf16(name), 1)
	newSum := sha1.Sum(newMeta)
	copy(b[at:], newMeta)
	if bytes.Count(b, sum[:]) != 1 {
		t.Fatal("the metadata's SHA-1 is not in the file once")
	}
	b = bytes.Replace(b, sum[:], newSum[:], 1)
	must(t, os.WriteFile(path, b, 0o644))
}

// TestApplyDroppedEntries: apply counts the entries of the image left out
// among those skipped (exit 3), as a restore of the imported snapshot
// does: it warned and exited 0, where the restore exited 3.
func TestApplyDroppedEntries(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache"), "HOME": dir}
	src, w := filepath.Join(dir, "src"), filepath.Join(dir, "x.wim")
	writeFile(t, src, "d1", []byte("one"))
	writeFile(t, src, "d2", []byte("two"))
	runAppOK(t, env, "capture", src, w, "--compress=none")
	renameInWIM(t, w, "d2", "d1")
	code, out, _ := runApp(t, env, "apply", w, filepath.Join(dir, "out"), "--json")
	var doc struct{ Skipped int64 }
	must(t, json.Unmarshal([]byte(out), &doc))
	if code != exitPartial || doc.Skipped != 1 {
		t.Errorf("apply: exit %d, %d skipped; want 3, 1:\n%s", code, doc.Skipped, out)
	}
}
