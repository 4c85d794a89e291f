//go:build unix

package main

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDamagedIndexWarnedByEveryCommand: the commands that sync the local
// index, besides restore and export, say once that they found it damaged
// and rebuilt it (a file that does not open; a page that lost the key of
// a snapshot's metadata), on stderr, or in the warnings of a --json
// document that has them; they rebuilt it silently.
func TestDamagedIndexWarnedByEveryCommand(t *testing.T) {
	cmds := [][]string{
		{"import", "WIM"}, {"snapshots"}, {"ls", "latest"}, {"diff", "latest", "latest"},
		{"prune"}, {"prune", "--json"}, {"forget", "--keep-last=5"}, {"forget", "--keep-last=5", "--prune", "--json"},
		{"stats"}, {"snapshot", "SRC"}, {"snapshot", "SRC", "--json"},
	}
	for _, args := range cmds {
		t.Run("unreadable "+strings.Join(args, " "), func(t *testing.T) {
			damagedIndexWarned(t, "unreadable", args)
		})
	}
	// Those that read an image (the others do not miss the key). Prune
	// refused ("run 'wimsnap check' and 'wimsnap repair' first"), taking
	// the local index's damage for the repository's.
	for _, args := range append(cmds[2:6:6], cmds[7]) {
		t.Run("key "+strings.Join(args, " "), func(t *testing.T) {
			damagedIndexWarned(t, "key", args)
		})
	}
}

func damagedIndexWarned(t *testing.T, damage string, args []string) {
	t.Helper()
	tmp, src, _, env := oneFileRepo(t)
	cache := env["WIMSNAP_CACHE_DIR"]
	wimFile := filepath.Join(tmp, "x.wim")
	if err := os.WriteFile(filepath.Join(src, "g"), []byte("other"), 0o644); err != nil {
		t.Fatal(err)
	}
	runAppOK(t, env, "capture", src, wimFile)
	want := "rebuilt it from the repository"
	if damage == "unreadable" {
		want = "rebuilding it"
		garbleIndexFile(t, cache)
	} else {
		damageMetadataKey(t, env, cache)
	}
	args = append([]string{}, args...)
	for i, arg := range args {
		switch arg {
		case "WIM":
			args[i] = wimFile
		case "SRC":
			args[i] = src
		}
	}
	code, out, errb := runApp(t, env, args...)
	if code != exitOK {
		t.Fatalf("exit %d: %s%s", code, out, errb)
	}
	var doc struct {
		Warnings []warning `json:"warnings"`
		Prune    *struct {
			Warnings []warning `json:"warnings"`
		} `json:"prune"`
	}
	if strings.Contains(strings.Join(args, " "), "--json") {
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
	}
	if doc.Prune != nil {
		doc.Warnings = doc.Prune.Warnings
	}
	n := strings.Count(errb, want)
	for _, w := range doc.Warnings {
		if w.Path == "repository" && strings.Contains(w.Error, want) {
			n += 10
		} else {
			t.Errorf("warning %+v", w)
		}
	}
	wantN := 1
	if strings.Contains(strings.Join(args, " "), "--json") {
		wantN = 10
	}
	if n != wantN {
		t.Errorf("told %d times (stderr once: 1, JSON once: 10) that the index was rebuilt, want %d: stderr %s\njson %+v", n, wantN, errb, doc.Warnings)
	}
}

// damageMetadataKey damages, as damageIndexFile does, the key of the
// latest snapshot's metadata stream in the local index in cache, and
// removes the cached images, so that reading the image needs the key.
func damageMetadataKey(t *testing.T, env map[string]string, cache string) {
	t.Helper()
	var doc struct {
		Snapshots []struct {
			Metadata struct {
				SHA1 string `json:"sha1"`
			} `json:"metadata"`
		} `json:"snapshots"`
	}
	out := runAppOK(t, env, "snapshots", "--json")
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Snapshots) == 0 {
		t.Fatalf("snapshots --json: %v: %s", err, out)
	}
	key, err := hex.DecodeString(doc.Snapshots[len(doc.Snapshots)-1].Metadata.SHA1)
	if err != nil {
		t.Fatal(err)
	}
	damageIndexFile(t, cache, key)
	meta, err := filepath.Glob(filepath.Join(cache, "*.meta"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range meta {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPruneRefusesLostIndex: a prune that still lacks a snapshot's image
// once it rebuilt the local index (the repository lost its index
// objects) refuses, changing nothing, as before it rebuilt the local
// index for such a miss.
func TestPruneRefusesLostIndex(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	cache, repo := filepath.Join(tmp, "cache"), filepath.Join(tmp, "repo")
	env := map[string]string{"WIMSNAP_CACHE_DIR": cache, "WIMSNAP_REPOSITORY": repo}
	runAppOK(t, env, "init")
	runAppOK(t, env, "snapshot", src)
	if err := os.RemoveAll(filepath.Join(repo, "index")); err != nil {
		t.Fatal(err)
	}
	packs, err := filepath.Glob(filepath.Join(repo, "packs", "*", "*"))
	if err != nil || len(packs) == 0 {
		t.Fatalf("packs: %v %v", packs, err)
	}
	code, out, errb := runApp(t, env, "prune")
	if code != exitFailure || !strings.Contains(errb, "prune refused") {
		t.Errorf("prune: exit %d, %s%s; want it refused", code, out, errb)
	}
	for _, p := range packs {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("pack %s: %v", p, err)
		}
	}
}
