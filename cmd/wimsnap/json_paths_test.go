//go:build unix

package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
)

// TestJSONPathBytes: the plain --json listings (dir and ls without
// --detailed) and diff's changes give the exact bytes of a path that is
// not valid UTF-8, which a JSON string turns into U+FFFD: "path_bytes"
// beside "paths", null for the valid ones, and left out when every path
// is valid.
func TestJSONPathBytes(t *testing.T) {
	env := testRepoEnv(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "odd")
	writeFile(t, src, "ok", []byte("x"))
	runAppOK(t, env, "snapshot", src, "--host=odd")
	writeFile(t, src, "bad\xffname", []byte("x"))
	runAppOK(t, env, "snapshot", src, "--host=odd")
	w := filepath.Join(dir, "odd.wim")
	runAppOK(t, env, "capture", src, w)

	var list struct {
		Paths     []string `json:"paths"`
		PathBytes [][]byte `json:"path_bytes"`
	}
	for _, args := range [][]string{{"dir", w}, {"ls", "latest"}} {
		out := runAppOK(t, env, append(args, "--json")...)
		list.PathBytes = nil
		must(t, json.Unmarshal([]byte(out), &list))
		want := [][]byte{nil, []byte("/bad\xffname"), nil}
		if len(list.Paths) != 3 || !slices.EqualFunc(list.PathBytes, want, slices.Equal) {
			t.Errorf("%s --json: paths %q, path_bytes %q, want %q", args[0], list.Paths, list.PathBytes, want)
		}
	}
	list.PathBytes = nil
	out := runAppOK(t, env, "ls", "latest", "/ok", "--json")
	if json.Unmarshal([]byte(out), &list) != nil || list.PathBytes != nil {
		t.Errorf("ls --json of valid paths only: %s", out)
	}

	var diff struct {
		Changes []struct {
			Path      string `json:"path"`
			PathBytes []byte `json:"path_bytes"`
		} `json:"changes"`
	}
	out = runAppOK(t, env, "snapshots", "--json")
	var doc struct {
		Snapshots []struct {
			ID   string `json:"id"`
			Host string `json:"host"`
		} `json:"snapshots"`
	}
	must(t, json.Unmarshal([]byte(out), &doc))
	var ids []string
	for _, s := range doc.Snapshots {
		if s.Host == "odd" {
			ids = append(ids, s.ID)
		}
	}
	if len(ids) != 2 {
		t.Fatalf("snapshots: %s", out)
	}
	out = runAppOK(t, env, "diff", ids[0], ids[1], "--json")
	must(t, json.Unmarshal([]byte(out), &diff))
	for _, c := range diff.Changes {
		if (c.Path == "/") != (c.PathBytes == nil) || c.Path != "/" && string(c.PathBytes) != "/bad\xffname" {
			t.Errorf("diff --json: %s", out)
		}
	}
	if len(diff.Changes) != 2 {
		t.Errorf("diff --json, want / and the new file: %s", out)
	}
}
