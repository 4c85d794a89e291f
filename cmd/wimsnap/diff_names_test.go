//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDiffUnicodeSpellings: a file renamed from its NFC to its NFD
// spelling shows in diff's text as two lines that differ (the non-ASCII
// characters escaped), not as a removed and an added line a terminal shows
// alike; --json keeps both paths exact, and other paths print as they are.
func TestDiffUnicodeSpellings(t *testing.T) {
	env := testRepoEnv(t)
	src := filepath.Join(t.TempDir(), "src")
	nfc, nfd := "caf\u00e9", "cafe\u0301"
	writeFile(t, src, nfc, []byte("x"))
	writeFile(t, src, "na\u00efve", []byte("y"))
	runAppOK(t, env, "snapshot", src, "--host=u")
	must(t, os.Rename(filepath.Join(src, nfc), filepath.Join(src, nfd)))
	must(t, os.Remove(filepath.Join(src, "na\u00efve")))
	runAppOK(t, env, "snapshot", src, "--host=u")
	var doc struct {
		Snapshots []struct {
			ID   string `json:"id"`
			Host string `json:"host"`
		} `json:"snapshots"`
	}
	must(t, json.Unmarshal([]byte(runAppOK(t, env, "snapshots", "--json")), &doc))
	var ids []string
	for _, s := range doc.Snapshots {
		if s.Host == "u" {
			ids = append(ids, s.ID)
		}
	}
	if len(ids) != 2 {
		t.Fatalf("%d snapshots of host u, want 2", len(ids))
	}
	from, to := ids[0], ids[1]
	out := runAppOK(t, env, "diff", from, to)
	for _, want := range []string{`-  "/caf\u00e9"`, `+  "/cafe\u0301"`, "-  /na\u00efve\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff: %q, want a line %q", out, want)
		}
	}
	var diff struct {
		Changes []struct {
			Path string `json:"path"`
		} `json:"changes"`
	}
	must(t, json.Unmarshal([]byte(runAppOK(t, env, "diff", from, to, "--json")), &diff))
	var paths []string
	for _, c := range diff.Changes {
		paths = append(paths, c.Path)
	}
	for _, p := range []string{"/" + nfc, "/" + nfd} {
		if !slices.Contains(paths, p) {
			t.Errorf("diff --json: paths %q, want %q", paths, p)
		}
	}
}
