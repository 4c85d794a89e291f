package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMissingImageExit runs every command that takes an IMAGE with one that
// a one-image WIM lacks, by index and by name: each is a usage error
// (exit 2, "no such image"), with --json too, and apply creates no target.
func TestMissingImageExit(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache"),
		"HOME": filepath.Join(dir, "home")}
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := filepath.Join(dir, "x.wim")
	if code, _, errb := runApp(t, env, "capture", src, w); code != exitOK {
		t.Fatalf("capture: exit %d: %s", code, errb)
	}
	if code, _, errb := runApp(t, env, "init", "--compress=none"); code != exitOK {
		t.Fatalf("init: exit %d: %s", code, errb)
	}
	target := filepath.Join(dir, "target")
	for _, image := range []string{"7", "0", "nope"} {
		for _, args := range [][]string{
			{"apply", w, image, target},
			{"extract", w, image, "/a.txt", "--dest-dir=" + target},
			{"dir", w, image},
			{"info", w, image},
			{"append", src, w, "--update-of=" + image},
			{"import", w, image},
			{"optimize", w, "--output=" + filepath.Join(dir, "y.wim"), "--image=" + image},
		} {
			code, _, errb := runApp(t, env, args...)
			if code != exitUsage || !strings.Contains(errb, "no such image") {
				t.Errorf("wimsnap %s: exit %d, want %d with \"no such image\": %s", strings.Join(args, " "), code, exitUsage, errb)
			}
		}
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Errorf("a failed apply left %s: %v", target, err)
	}
	code, out, _ := runApp(t, env, "info", w, "7", "--json")
	var doc struct {
		ExitCode int `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != exitUsage || doc.ExitCode != exitUsage {
		t.Errorf("info --json with a missing image: exit %d, document %q (%v), want exit_code %d", code, out, err, exitUsage)
	}
}
