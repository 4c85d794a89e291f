package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRepoConfigMissing: a repository that lost its config but holds its
// data is not "no repository": every command says that the config is
// missing (exit 10), and neither snapshot at the default location nor init
// writes a new config over the data.
func TestRepoConfigMissing(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"XDG_DATA_HOME": filepath.Join(dir, "xdg"), "WIMSNAP_CACHE_DIR": filepath.Join(dir, "cache")}
	runAppOK(t, env, "snapshot", src)
	config := filepath.Join(dir, "xdg", "wimsnap", "repository", "config")
	if err := os.Remove(config); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"snapshot", src}, {"snapshots"}, {"init"}, {"check"}} {
		code, _, errb := runApp(t, env, args...)
		if code != exitNoRepo || !strings.Contains(errb, "config is missing") || !strings.Contains(errb, "backup") {
			t.Errorf("%s: exit %d: %s", args[0], code, errb)
		}
		if _, err := os.Stat(config); err == nil {
			t.Fatalf("%s wrote a new config over the repository's data", args[0])
		}
	}
}

// TestRepoEmptyFlag: --repo "" (a script's unset variable) is a usage
// error, not the default repository, which snapshot created and wrote to.
func TestRepoEmptyFlag(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"XDG_DATA_HOME": filepath.Join(dir, "xdg"), "WIMSNAP_CACHE_DIR": filepath.Join(dir, "cache")}
	code, _, errb := runApp(t, env, "snapshot", dir, "--repo", "")
	if code != exitUsage || !strings.Contains(errb, `--repo="": empty (leave the flag out for its default)`) {
		t.Errorf("snapshot --repo '': exit %d: %s", code, errb)
	}
	if _, err := os.Stat(filepath.Join(dir, "xdg")); err == nil {
		t.Error("snapshot --repo '' made the default repository")
	}
}
