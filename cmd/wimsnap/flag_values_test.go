//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFlagValueIsFlag: a flag that needs a value followed by another flag
// is refused, where pflag took the flag for the value: a restore with
// "--target --dry-run" restored into a directory named "--dry-run" and
// wrote the files the dry run was to spare. Written --target=--dry-run
// it is the value, and a value that starts with '-' but names no flag
// passes.
func TestFlagValueIsFlag(t *testing.T) {
	env := testRepoEnv(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	runAppOK(t, env, "snapshot", src)
	t.Chdir(t.TempDir())
	for _, args := range [][]string{
		{"restore", "latest", "--target", "--dry-run"},
		{"restore", "latest", "--target", "--json=true"},
		{"snapshot", "--tag", "--json", src},
		{"restore", "latest", "--target", "--", "--dry-run"},
		{"snapshots", "--repo", "--", "x"}, // before the count of arguments, which the flag left one over
	} {
		code, _, errb := runApp(t, env, args...)
		if code != exitUsage || !strings.Contains(errb, "needs a value, and the next argument is the flag") {
			t.Errorf("%q: exit %d: %s", args, code, errb)
		}
	}
	if _, err := os.Lstat("--dry-run"); !os.IsNotExist(err) {
		t.Errorf("the refused restore wrote --dry-run: %v", err)
	}
	runAppOK(t, env, "restore", "latest", "--target=--dry-run")
	runAppOK(t, env, "restore", "latest", "--target", "-x")
	for _, dir := range []string{"--dry-run", "-x"} {
		if _, err := os.Stat(filepath.Join(dir, "f")); err != nil {
			t.Errorf("restore into %s: %v", dir, err)
		}
	}
}

// TestFlagValueWords: a value a flag's type refuses is named in words,
// without Go's strconv message.
func TestFlagValueWords(t *testing.T) {
	for args, want := range map[string]string{
		"snapshot --threads=abc /x":  `--threads="abc": want a whole number`,
		"snapshot --json=maybe /x":   `--json="maybe": want true or false`,
		"capture --threads=1e99 a b": `--threads="1e99": want a whole number`,
	} {
		code, _, errb := runApp(t, nil, strings.Fields(args)...)
		if code != exitUsage || !strings.Contains(errb, want) || strings.Contains(errb, "strconv") {
			t.Errorf("%s: exit %d: %s", args, code, errb)
		}
	}
}

// TestFlagEmptyFile: a flag naming a file or an address refuses an empty
// value: "optimize x.wim --output=" rewrote x.wim in place and "agent
// --check-config --config=" read the working directory.
func TestFlagEmptyFile(t *testing.T) {
	for _, args := range []string{
		"optimize x.wim --output=", "agent --check-config --config=", "agent status --address=",
		"capture src x.wim --config=", "snapshots --cacert=", "agent --log-file=",
	} {
		code, _, errb := runApp(t, nil, strings.Fields(args)...)
		if code != exitUsage || !strings.Contains(errb, `="": empty (leave the flag out for its default)`) {
			t.Errorf("%s: exit %d: %s", args, code, errb)
		}
	}
}
