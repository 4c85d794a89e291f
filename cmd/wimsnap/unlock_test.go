//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// plantLock writes a lock object into the local repository repo, last
// written at mod (by the store's clock: the file's mtime).
func plantLock(t *testing.T, repo, id, host string, pid int, mod time.Time) {
	t.Helper()
	rec := map[string]any{"host": host, "pid": pid, "user": "root", "exclusive": false, "time": mod}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(repo, "locks"), id, b)
	if err := os.Chtimes(filepath.Join(repo, "locks", id), mod, mod); err != nil {
		t.Fatal(err)
	}
}

// lockFiles lists the objects under the repository's locks/.
func lockFiles(t *testing.T, repo string) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(repo, "locks"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

type unlockDoc struct {
	Repository string     `json:"repository"`
	Removed    []lockJSON `json:"removed"`
	Kept       []lockJSON `json:"kept"`
}

// TestUnlockCommand: unlock removes the lock of a process gone for two
// hours and keeps (and names) a fresh one; --remove-all removes that too.
// Both in text and in JSON.
func TestUnlockCommand(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	env := map[string]string{envRepository: repo, envCacheDir: filepath.Join(dir, "cache"), "HOME": dir}
	if code, _, errb := runApp(t, env, "init", "--compress=none"); code != exitOK {
		t.Fatalf("init: exit %d: %s", code, errb)
	}
	deadID, liveID := strings.Repeat("0d", 32), strings.Repeat("1e", 32)
	old := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	plantLock(t, repo, deadID, "dead-host", 4242, old)
	plantLock(t, repo, liveID, "live-host", 77, time.Now())

	code, out, errb := runApp(t, env, "unlock")
	if code != exitOK {
		t.Fatalf("unlock: exit %d: %s", code, errb)
	}
	for _, want := range []string{
		"removed stale shared lock 0d0d0d0d of host dead-host pid 4242 user root since 2026-01-02 03:04:05 UTC\n",
		"kept shared lock 1e1e1e1e: held by host live-host pid 77 user root since ",
		"; use --remove-all only if that process is gone\n",
		repo + ": removed 1 lock, kept 1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("unlock output lacks %q:\n%s", want, out)
		}
	}
	if got := lockFiles(t, repo); len(got) != 1 || got[0] != liveID {
		t.Fatalf("locks/ holds %v, want only the fresh lock", got)
	}

	var doc unlockDoc
	code, out, errb = runApp(t, env, "unlock", "--json")
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != exitOK {
		t.Fatalf("unlock --json: exit %d, %v\n%s%s", code, err, out, errb)
	}
	if doc.Repository != repo || doc.Removed == nil || len(doc.Removed) != 0 || len(doc.Kept) != 1 {
		t.Fatalf("unlock --json: %+v", doc)
	}
	if k := doc.Kept[0]; k.Key != "locks/"+liveID || k.Host != "live-host" || k.PID != 77 || k.User != "root" ||
		k.Kind != "shared" || k.Stale || k.Since.IsZero() || k.Modified.IsZero() {
		t.Errorf("kept lock %+v", k)
	}

	doc = unlockDoc{}
	code, out, errb = runApp(t, env, "unlock", "--remove-all", "--json")
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != exitOK {
		t.Fatalf("unlock --remove-all --json: exit %d, %v\n%s%s", code, err, out, errb)
	}
	if len(doc.Removed) != 1 || doc.Removed[0].Key != "locks/"+liveID || doc.Removed[0].Stale || doc.Kept == nil || len(doc.Kept) != 0 {
		t.Fatalf("unlock --remove-all --json: %+v", doc)
	}
	if got := lockFiles(t, repo); len(got) != 0 {
		t.Fatalf("locks/ holds %v after --remove-all, want nothing (the clock probe gone too)", got)
	}

	code, out, _ = runApp(t, env, "unlock")
	if code != exitOK || out != repo+": removed 0 locks, kept 0\n" {
		t.Errorf("unlock of no locks: exit %d, %q", code, out)
	}
	if code, _, _ := runApp(t, env, "unlock", "extra"); code != exitUsage {
		t.Errorf("unlock extra: exit %d, want %d", code, exitUsage)
	}
	if code, _, _ := runApp(t, env, "unlock", "--repo", filepath.Join(dir, "none")); code != exitNoRepo {
		t.Errorf("unlock of a missing repository: exit %d, want %d", code, exitNoRepo)
	}
}
