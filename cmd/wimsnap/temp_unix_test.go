//go:build unix

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSweepTemps: a capture removes the temporary files of its target
// that killed runs left, and only those: not one a live process holds, not
// another target's, not a name of another form. A leftover is removed at
// once, however lately it was written: no process holds it; it stayed for
// a minute.
func TestSweepTemps(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "a.wim")
	old := time.Now().Add(-2 * time.Hour)
	mk := func(name string, age time.Time) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, []byte("leftover"), 0o644))
		must(t, os.Chtimes(p, age, age))
		return p
	}
	stale := []string{mk(".a.wim.tmp-0123456789ab", old), mk(".a.wim.tmp-aaaaaaaaaaaa", time.Now())}
	held, err := createTemp(target)
	if err != nil {
		t.Fatal(err)
	}
	defer discardTemp(held)
	must(t, os.Chtimes(held.Name(), old, old))
	kept := []string{
		held.Name(),
		mk(".b.wim.tmp-0123456789ab", old),
		mk(".a.wim.tmp-0123456789ab.keep", old),
		mk(".a.wim.tmp-notmine", old),
	}
	src := filepath.Join(dir, "src")
	writeFile(t, src, "f", []byte("data"))
	runAppOK(t, nil, "capture", src, target)
	for _, p := range stale {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("the leftover %s is still there (%v)", filepath.Base(p), err)
		}
	}
	for _, p := range kept {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(p), err)
		}
	}
}

// TestInPlaceSweepsTemps: append and export-image, which write into the
// WIM in place, remove what a killed rewrite of it (optimize, delete)
// left, as the commands that write through a temporary file do; it stayed
// until one of those ran.
func TestInPlaceSweepsTemps(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "f", []byte("data"))
	target := filepath.Join(dir, "a.wim")
	runAppOK(t, nil, "capture", src, target)
	for i, args := range [][]string{
		{"append", src, target, "--name", "two"},
		{"export-image", target, "1", target, "--name", "three"},
	} {
		leftover := filepath.Join(dir, fmt.Sprintf(".a.wim.tmp-%012x", i))
		must(t, os.WriteFile(leftover, []byte("leftover"), 0o644))
		runAppOK(t, nil, args...)
		if _, err := os.Lstat(leftover); !os.IsNotExist(err) {
			t.Errorf("%s: the leftover is still there (%v)", args[0], err)
		}
	}
}

// TestHoldTempTaken: a temporary file that a sweepTemps of another
// process locked between its creation and createTemp's lock is not used,
// nor one that it removed meanwhile; createTemp makes another.
func TestHoldTempTaken(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, ".a.wim.tmp-0123456789ab"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	sweeper, err := os.Open(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	must(t, unix.Flock(int(sweeper.Fd()), unix.LOCK_EX))
	if holdTemp(f) {
		t.Error("holdTemp took a file another sweepTemps holds")
	}
	must(t, os.Remove(f.Name()))
	must(t, sweeper.Close())
	if holdTemp(f) {
		t.Error("holdTemp took a file another sweepTemps removed")
	}
}

// TestPruneSweepsRepoTemps: prune removes the local store's temporary
// files that a killed snapshot left an hour ago or more, and says so.
func TestPruneSweepsRepoTemps(t *testing.T) {
	env := testRepoEnv(t)
	old := time.Now().Add(-2 * time.Hour)
	stale := filepath.Join(env[envRepository], "index", ".tmp-KILLEDSNAPSHOT")
	must(t, os.WriteFile(stale, []byte("half an index object"), 0o644))
	must(t, os.Chtimes(stale, old, old))
	code, out, errb := runApp(t, env, "prune", "--json")
	if code != exitOK || !strings.Contains(out, `"temp_files_removed": 1`) {
		t.Fatalf("prune: exit %d: %s %s", code, out, errb)
	}
	if _, err := os.Lstat(stale); !os.IsNotExist(err) {
		t.Errorf("the temporary file is still there (%v)", err)
	}
}

// TestCommitNewTemp: a new file committed to a target that did not exist
// takes its name; a file another process created at the target meanwhile
// is kept (export-image to a new DEST_WIM replaced it), the commit fails
// with fs.ErrExist, and no temporary file is left once it is discarded.
func TestCommitNewTemp(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "new.wim")
	commit := func(data string) error {
		tmp, err := createTemp(target)
		must(t, err)
		_, err = tmp.WriteString(data)
		must(t, err)
		if err = commitNewTemp(tmp, target); err != nil {
			discardTemp(tmp)
		}
		return err
	}
	must(t, commit("ours"))
	must(t, os.WriteFile(target, []byte("theirs"), 0o644))
	if err := commit("late"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("commit over a file created meanwhile: %v, want fs.ErrExist", err)
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "theirs" {
		t.Errorf("the file created meanwhile holds %q (%v)", b, err)
	}
	if left := tempsOf(target); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
}
