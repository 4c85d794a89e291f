//go:build unix && amd64

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWineSourceCase: on Windows a source is one directory in any letter
// case. The Windows build records it as the file system spells it, so a
// snapshot of the same directory spelled otherwise finds its parent (and
// opens no unchanged file), also with the \\?\ prefix (it was recorded as
// another source), and forget --path in yet another spelling (as the agent
// runs it, with the config's) matches the snapshots.
func TestWineSourceCase(t *testing.T) {
	w := newWinePrefix(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "Data")
	for _, name := range []string{"One.txt", "Sub/Two.txt"} {
		writeFile(t, src, name, []byte(name+"\n"))
	}
	repo := winPath(filepath.Join(dir, "repo"))
	w.env = append(w.env, "WIMSNAP_CACHE_DIR="+winPath(filepath.Join(dir, "cache")))
	if out, code := w.run(t, "init", "--repo", repo); code != 0 {
		t.Fatalf("init: exit %d\n%s", code, out)
	}
	type summary struct {
		Snapshot  string `json:"snapshot"`
		Source    string `json:"source"`
		Parent    string `json:"parent"`
		FilesRead int    `json:"files_read"`
	}
	snap := func(spelling string) summary {
		t.Helper()
		out, code := w.run(t, "snapshot", "--json", "--repo", repo, spelling)
		var s summary
		if err := json.Unmarshal([]byte(out), &s); code != 0 || err != nil {
			t.Fatalf("snapshot %s: exit %d, %v\n%s", spelling, code, err, out)
		}
		return s
	}
	want := winPath(src)
	first := snap(strings.ToLower(want))
	if first.Source != want {
		t.Errorf("source recorded as %q, want %q (the file system's spelling)", first.Source, want)
	}
	second := snap(strings.ToUpper(want))
	if second.Source != want || second.Parent != first.Snapshot || second.FilesRead != 0 {
		t.Errorf("second snapshot: source %q, parent %q, %d files read; want %q, %q, 0",
			second.Source, second.Parent, second.FilesRead, want, first.Snapshot)
	}
	third := snap(`\\?\` + want) // the prefix that passes a path as it is: recorded without it
	if third.Source != want || third.Parent != second.Snapshot || third.FilesRead != 0 {
		t.Errorf("snapshot of \\\\?\\%s: source %q, parent %q, %d files read; want %q, %q, 0",
			want, third.Source, third.Parent, third.FilesRead, want, second.Snapshot)
	}
	out, code := w.run(t, "forget", "--json", "--repo", repo, "--keep-last=1", "--path", `\\?\`+winPath(filepath.Join(dir, "dATA")))
	var res struct {
		Removed int `json:"removed"`
	}
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || res.Removed != 2 {
		t.Errorf("forget --path in another case, with \\\\?\\: exit %d, %v, %d removed, want 2\n%s", code, err, res.Removed, out)
	}
	if _, err := os.Stat(src); err != nil {
		t.Fatal(err)
	}
	// An import records its WIM's path without the prefix too.
	wimFile := filepath.Join(dir, "x.wim")
	if out, code := w.run(t, "capture", winPath(src), winPath(wimFile)); code != 0 {
		t.Fatalf("capture: exit %d\n%s", code, out)
	}
	out, code = w.run(t, "import", "--json", "--repo", repo, `\\?\`+winPath(wimFile))
	var doc struct {
		Snapshots []struct{ Source string }
	}
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil || len(doc.Snapshots) != 1 ||
		doc.Snapshots[0].Source != winPath(wimFile)+"#1" {
		t.Errorf("import of \\\\?\\%s: exit %d, %v, %+v; want the source %s#1\n%s", winPath(wimFile), code, err, doc,
			winPath(wimFile), out)
	}
}
