//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLatestFilter: on a repository several machines share, --host,
// --tag and --path make "latest" the newest of their snapshots for ls,
// diff, restore and export, and limit what snapshots lists. "latest" was
// always the newest of all: restore latest restored another machine's
// tree. An id names its snapshot whatever the filter.
func TestLatestFilter(t *testing.T) {
	dir := t.TempDir()
	web, db := filepath.Join(dir, "web"), filepath.Join(dir, "db")
	writeFile(t, web, "index.html", []byte("web"))
	writeFile(t, db, "data", []byte("db"))
	repo := filepath.Join(dir, "repo")
	env := map[string]string{"WIMSNAP_CACHE_DIR": filepath.Join(dir, "cache")}
	runAppOK(t, env, "init", "--repo", repo)
	runAppOK(t, env, "snapshot", web, "--repo", repo, "--host", "web01", "--tag", "nightly")
	runAppOK(t, env, "snapshot", db, "--repo", repo, "--host", "db01")

	if out := runAppOK(t, env, "ls", "latest", "--repo", repo); !strings.Contains(out, "/data") {
		t.Fatalf("ls latest: %q, want db01's", out)
	}
	for _, f := range [][]string{{"--host", "web01"}, {"--tag", "nightly"}, {"--path", web}} {
		if out := runAppOK(t, env, append([]string{"ls", "latest", "--repo", repo}, f...)...); !strings.Contains(out, "/index.html") {
			t.Errorf("ls latest %s: %q, want web01's", f, out)
		}
	}
	if out := runAppOK(t, env, "snapshots", "--repo", repo, "--host", "web01"); !strings.Contains(out, "1 snapshot\n") || strings.Contains(out, "db01") {
		t.Errorf("snapshots --host web01: %q", out)
	}
	target := filepath.Join(dir, "restored")
	runAppOK(t, env, "restore", "latest", "--repo", repo, "--host", "web01", "--target", target)
	if b, err := os.ReadFile(filepath.Join(target, "index.html")); err != nil || string(b) != "web" {
		t.Errorf("restore latest --host web01: %q, %v", b, err)
	}
	var doc struct{ Snapshots []struct{ ID string } }
	if err := json.Unmarshal([]byte(runAppOK(t, env, "snapshots", "--json", "--repo", repo, "--host", "db01")), &doc); err != nil || len(doc.Snapshots) != 1 {
		t.Fatalf("snapshots --json --host db01: %+v, %v", doc, err)
	}
	if out := runAppOK(t, env, "diff", doc.Snapshots[0].ID, "latest", "--repo", repo, "--host", "web01"); !strings.Contains(out, "+  /index.html") {
		t.Errorf("diff db01's latest --host web01: %q", out)
	}
	wimFile := filepath.Join(dir, "web.wim")
	runAppOK(t, env, "export", "latest", wimFile, "--repo", repo, "--host", "web01")
	if out := runAppOK(t, env, "dir", wimFile); !strings.Contains(out, "/index.html") {
		t.Errorf("export latest --host web01: %q", out)
	}
	code, _, errb := runApp(t, env, "restore", "latest", "--repo", repo, "--host", "mail01", "--target", filepath.Join(dir, "none"))
	if code != exitFailure || !strings.Contains(errb, "none of the 2 snapshots matches") {
		t.Errorf("restore latest --host mail01: exit %d: %s", code, errb)
	}
	// forget latest with a filter removes the newest of those snapshots,
	// and with one that matches none, nothing: it removed db01's newest.
	code, out, errb := runApp(t, env, "forget", "latest", "--repo", repo, "--host", "mail01")
	if code != exitPartial || strings.Contains(out, "removed 1") {
		t.Errorf("forget latest --host mail01: exit %d, want %d removing nothing: %s%s", code, exitPartial, out, errb)
	}
	if code, _, errb := runApp(t, env, "forget", doc.Snapshots[0].ID, "--repo", repo, "--host", "web01"); code != exitFailure ||
		!strings.Contains(errb, "nothing was removed") {
		t.Errorf("forget db01's id --host web01: exit %d, want %d removing nothing: %s", code, exitFailure, errb)
	}
	runAppOK(t, env, "forget", "latest", "--repo", repo, "--path", web)
	if out := runAppOK(t, env, "snapshots", "--repo", repo); !strings.Contains(out, "db01") || strings.Contains(out, "web01") {
		t.Errorf("after forget latest --path web: %q, want db01's only", out)
	}
}

// TestCell: the table shows a field of at most maxCell characters whole
// and cuts a longer one, however long, to maxCell.
func TestCell(t *testing.T) {
	if got := cell("host01"); got != "host01" {
		t.Errorf("cell(host01) = %q", got)
	}
	for _, n := range []int{maxCell + 1, 20 << 20} {
		if got := []rune(cell(strings.Repeat("é", n))); len(got) != maxCell || string(got[maxCell-3:]) != "..." {
			t.Errorf("cell of %d characters: %d characters, ending %q", n, len(got), string(got[len(got)-3:]))
		}
	}
}
