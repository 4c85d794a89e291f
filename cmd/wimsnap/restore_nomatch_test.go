//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRestoreIncludeNoMatch: an --include pattern that matches nothing in
// the snapshot is warned about, naming the pattern, in text and in --json;
// the restore goes on (exit 0) with what the other patterns select.
func TestRestoreIncludeNoMatch(t *testing.T) {
	env := testRepoEnv(t)
	target := filepath.Join(t.TempDir(), "t")
	code, _, errb := runApp(t, env, "restore", "latest", "--target", target, "--include", "/nope", "--include", "b.txt",
		"--include", "/nope/", "--include", "/nope")
	if code != exitOK || strings.Count(errb, "wimsnap: warning: /nope: include pattern matches nothing in the snapshot\n") != 1 ||
		strings.Count(errb, "\n") != 1 {
		t.Errorf("exit %d, stderr %q; want exit 0 and one warning, about /nope", code, errb)
	}
	if _, err := os.Stat(filepath.Join(target, "sub", "b.txt")); err != nil {
		t.Errorf("the other pattern's file: %v", err)
	}
	code, out, errb := runApp(t, env, "--json", "restore", "latest", "--target", t.TempDir(), "--include", "/nope")
	var doc restoreSummary
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != exitOK {
		t.Fatalf("--json: exit %d, %v: %s%s", code, err, out, errb)
	}
	want := warning{Path: "/nope", Error: "include pattern matches nothing in the snapshot"}
	if doc.WarningsTotal != 1 || len(doc.Warnings) != 1 || doc.Warnings[0].Path != want.Path ||
		doc.Warnings[0].Error != want.Error || doc.Files != 0 {
		t.Errorf("--json: %+v; want one warning %+v and no files", doc, want)
	}
}
