//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportMovedWIM: importing a copy of a WIM imported before passes
// over its images, naming the snapshot's source, the other WIM.
func TestImportMovedWIM(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache"), "HOME": dir}
	runAppOK(t, env, "init")
	src, w, moved := filepath.Join(dir, "src"), filepath.Join(dir, "x.wim"), filepath.Join(dir, "moved.wim")
	writeFile(t, src, "a", []byte("a"))
	runAppOK(t, env, "capture", src, w)
	runAppOK(t, env, "import", w)
	b, err := os.ReadFile(w)
	must(t, err)
	must(t, os.WriteFile(moved, b, 0o644))
	out := runAppOK(t, env, "import", moved)
	if want := "already (imported before from " + w + "#1;"; !strings.Contains(out, want) {
		t.Errorf("import of the copy: %q, want %q", out, want)
	}
	var doc struct {
		Snapshots []importedJSON `json:"snapshots"`
	}
	must(t, json.Unmarshal([]byte(runAppOK(t, env, "import", moved, "--json")), &doc))
	if len(doc.Snapshots) != 1 || !doc.Snapshots[0].Existing || doc.Snapshots[0].Source != w+"#1" {
		t.Errorf("import --json of the copy: %+v", doc.Snapshots)
	}
	if out := runAppOK(t, env, "import", w); strings.Contains(out, " from ") {
		t.Errorf("import of the WIM again: %q, want no other source named", out)
	}
}
