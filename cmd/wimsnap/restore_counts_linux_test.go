//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRollbackFailedReplaceCounts: a rollback whose replacement of one
// changed file fails (the file is immutable, so the rename over it is
// refused) keeps that file whole, exits with the partial code, and counts
// it as skipped only: the --json files count holds the file written and
// the one unchanged, not the one it could not replace.
func TestRollbackFailedReplaceCounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("setting the immutable flag needs root")
	}
	env := map[string]string{}
	dir := t.TempDir()
	env[envRepository], env[envCacheDir], env["HOME"] = filepath.Join(dir, "repo"), filepath.Join(dir, "cache"), filepath.Join(dir, "home")
	src, target := filepath.Join(dir, "src"), filepath.Join(dir, "target")
	for _, n := range []string{"kept.txt", "changed.txt", "locked.txt"} {
		writeFile(t, src, n, []byte("snapshot's "+n+"\n"))
	}
	runAppOK(t, env, "init")
	runAppOK(t, env, "snapshot", src)
	runAppOK(t, env, "restore", "latest", "--target", target)
	writeFile(t, target, "changed.txt", []byte("changed since\n"))
	writeFile(t, target, "locked.txt", []byte("changed and immutable\n"))
	setImmutable(t, filepath.Join(target, "locked.txt"))

	code, out, errb := runApp(t, env, "restore", "latest", "--target", target, "--delete", "--json")
	if code != exitPartial {
		t.Fatalf("rollback over an immutable file: exit %d, want %d: %s", code, exitPartial, errb)
	}
	var sum restoreSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if sum.Files != 2 || sum.Unchanged != 1 || sum.Skipped != 1 {
		t.Errorf("files %d, unchanged %d, skipped %d; want 2 files (one written, one unchanged) and 1 skipped",
			sum.Files, sum.Unchanged, sum.Skipped)
	}
	if b, _ := os.ReadFile(filepath.Join(target, "locked.txt")); string(b) != "changed and immutable\n" {
		t.Errorf("locked.txt: %q, want it whole as it was", b)
	}
	if ents, _ := os.ReadDir(target); len(ents) != 3 {
		t.Errorf("%d names in the target, want 3 (no temporary file left)", len(ents))
	}
	if len(sum.Warnings) != 1 || !strings.HasSuffix(sum.Warnings[0].Path, "locked.txt") {
		t.Errorf("warnings %+v, want one about locked.txt", sum.Warnings)
	}
}

// fsImmutable is FS_IMMUTABLE_FL of linux/fs.h, which x/sys/unix lacks.
const fsImmutable = 0x10

// setImmutable sets the immutable flag of the file path, cleared again at
// cleanup; it skips the test where the file system has no such flag.
func setImmutable(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	flags, err := unix.IoctlGetInt(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err == nil {
		err = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, flags|fsImmutable)
	}
	if err != nil {
		t.Skipf("no immutable flag here: %v", err)
	}
	t.Cleanup(func() {
		if f, err := os.Open(path); err == nil {
			_ = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, flags)
			_ = f.Close()
		}
	})
}
