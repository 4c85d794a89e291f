//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestUnusableCacheInsideTree: the temporary index of a command whose
// cache cannot be written lies in $TMPDIR, which a snapshot of / holds;
// the snapshot leaves it out, as it does the usual cache.
func TestUnusableCacheInsideTree(t *testing.T) {
	tree := filepath.Join(t.TempDir(), "tree")
	tmpdir := filepath.Join(tree, "tmp")
	if err := os.MkdirAll(tmpdir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmpdir)
	writeFile(t, tree, "f", []byte("data"))
	block := filepath.Join(tree, "file")
	writeFile(t, tree, "file", []byte("x"))
	env := map[string]string{envCacheDir: filepath.Join(block, "index"), envRepository: filepath.Join(t.TempDir(), "repo")}
	for _, args := range [][]string{{"init"}, {"snapshot", tree}} {
		if code, out, errb := runApp(t, env, args...); code != exitOK {
			t.Fatalf("%s: exit %d: %s%s", args[0], code, out, errb)
		}
	}
	code, out, errb := runApp(t, env, "ls", "latest", "/tmp")
	if code != exitOK {
		t.Fatalf("ls: exit %d: %s", code, errb)
	}
	if strings.Contains(out, "wimsnap-index") {
		t.Errorf("the snapshot holds the temporary index:\n%s", out)
	}
}

// TestUnusableCacheExec: the temporary index is removed by exec itself, as
// the agent runs its commands, not only by run: an agent whose cache
// cannot be written left one in $TMPDIR for every command.
func TestUnusableCacheExec(t *testing.T) {
	dir := t.TempDir()
	tmpdir := filepath.Join(dir, "tmp")
	must(t, os.MkdirAll(tmpdir, 0o700))
	t.Setenv("TMPDIR", tmpdir)
	writeFile(t, dir, "file", []byte("x"))
	env := map[string]string{envCacheDir: filepath.Join(dir, "file", "index"), envRepository: filepath.Join(dir, "repo")}
	for _, args := range [][]string{{"init"}, {"snapshot", filepath.Join(dir, "tmp")}, {"snapshots"}} {
		a, _, errb := testApp(env)
		if _, code, err := a.exec(t.Context(), args); code != exitOK {
			t.Fatalf("%s: exit %d, %v: %s", args[0], code, err, errb)
		}
		if left, _ := os.ReadDir(tmpdir); len(left) != 0 {
			t.Fatalf("%s left %s in TMPDIR", args[0], left[0].Name())
		}
	}
}

// TestUnwritableRepoCache: in a cache directory the user can write, an
// index file of the repository that the user cannot write (made by root
// through sudo, or made read-only) is removed and rebuilt, with a warning;
// a spool the user cannot write makes the run use a temporary cache. Each
// stopped every command ("permission denied") though the README promises
// that an unwritable cache costs only a rebuild. Root's index in a cache
// directory several users share is left alone (it was removed).
func TestUnwritableRepoCache(t *testing.T) {
	bin, tmp := binaryForNobody(t)
	src := filepath.Join(tmp, "src")
	writeFile(t, src, "f", []byte("data\n"))
	shAsNobody(t, tmp, bin+" init --repo repo && "+bin+" snapshot src --repo repo")
	run := func(env []string, args ...string) result {
		t.Helper()
		return runAs(t, 65534, bin, tmp, append([]string{"HOME=" + tmp, "TMPDIR=" + tmp}, env...), args...)
	}
	dbs, err := filepath.Glob(filepath.Join(tmp, ".cache", "wimsnap", "index", "*.db"))
	if err != nil || len(dbs) != 1 {
		t.Fatalf("index files %q (%v), want one", dbs, err)
	}
	must(t, os.Chmod(dbs[0], 0o400))
	if res := run(nil, "snapshots", "--repo", "repo"); res.code != exitOK || !strings.Contains(res.stderr, "removed it, to be rebuilt") {
		t.Errorf("snapshots with a read-only index file: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	spool := filepath.Join(tmp, ".cache", "wimsnap", "index", "spool")
	must(t, os.Chmod(spool, 0o500))
	t.Cleanup(func() { _ = os.Chmod(spool, 0o700) })
	writeFile(t, src, "g", []byte("more data\n"))
	if res := run(nil, "snapshot", "src", "--repo", "repo"); res.code != exitOK || !strings.Contains(res.stderr, "rebuilds the index in a temporary directory") {
		t.Errorf("snapshot with a spool it cannot write: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}

	// Root's index in a cache directory root shares with all is root's:
	// nobody works in a temporary cache and leaves it there.
	shared := filepath.Join(tmp, "shared")
	must(t, os.Mkdir(shared, 0o777))
	must(t, os.Chmod(shared, 0o777))
	if res := runBin(t, bin, []string{"HOME=" + tmp, envCacheDir + "=" + shared}, "snapshots", "--repo", filepath.Join(tmp, "repo")); res.code != exitOK {
		t.Fatalf("root's snapshots: %s", res.stderr)
	}
	rootDBs, err := filepath.Glob(filepath.Join(shared, "*.db"))
	if err != nil || len(rootDBs) != 1 {
		t.Fatalf("root's index files %q (%v), want one", rootDBs, err)
	}
	res := run([]string{envCacheDir + "=" + shared}, "snapshots", "--repo", "repo")
	if _, err := os.Stat(rootDBs[0]); err != nil || res.code != exitOK || !strings.Contains(res.stderr, "rebuilds the index in a temporary directory") {
		t.Errorf("nobody's snapshots beside root's index in a shared cache: exit %d, root's index %v\n%s", res.code, err, res.stderr)
	}
}

// TestForeignRepositoryRefusesWrites: a user who may write into another
// user's repository that is not shared with a group (made group- or
// world-writable, not set-group-ID) is refused before writing anything,
// naming the owner: the files it made were private to it, and the owner's
// every command failed with "permission denied". It may still read. What
// root writes there is given to the owner, who then still reads it all.
func TestForeignRepositoryRefusesWrites(t *testing.T) {
	bin, tmp := binaryForNobody(t)
	src := filepath.Join(tmp, "src")
	writeFile(t, src, "f", []byte("data\n"))
	repo := filepath.Join(tmp, "repo")
	as := func(uid uint32, args ...string) result {
		t.Helper()
		return runAs(t, uid, bin, tmp, []string{"HOME=" + filepath.Join(tmp, fmt.Sprint("home", uid))}, args...)
	}
	for _, args := range [][]string{{"init", "--repo", repo}, {"snapshot", src, "--repo", repo}} {
		if res := as(65534, args...); res.code != exitOK {
			t.Fatalf("nobody's %s: exit %d\n%s", args[0], res.code, res.stderr)
		}
	}
	must(t, exec.Command("chmod", "-R", "a+rwX", repo).Run())
	before, err := exec.Command("find", repo).Output()
	must(t, err)
	res := as(4321, "snapshot", src, "--repo", repo)
	if res.code == exitOK || !strings.Contains(res.stderr, "is nobody's and is not shared with a group") {
		t.Errorf("uid 4321's snapshot into nobody's repository: exit %d\n%s", res.code, res.stderr)
	}
	after, err := exec.Command("find", repo).Output()
	must(t, err)
	if string(after) != string(before) {
		t.Errorf("the refused snapshot wrote into the repository:\n%s", after)
	}
	if res := as(4321, "snapshots", "--repo", repo); res.code != exitOK {
		t.Errorf("uid 4321's snapshots of nobody's readable repository: exit %d\n%s", res.code, res.stderr)
	}
	writeFile(t, src, "g", []byte("more\n"))
	if res := as(0, "snapshot", src, "--repo", repo); res.code != exitOK {
		t.Fatalf("root's snapshot into nobody's repository: exit %d\n%s", res.code, res.stderr)
	}
	if res := as(65534, "check", "--read-data", "--repo", repo); res.code != exitOK {
		t.Errorf("nobody's check after root's snapshot: exit %d\n%s", res.code, res.stderr)
	}
}

// runAs runs bin with args as uid (as the test's own user when 0, root),
// in dir, with PATH and env, and returns its exit code and output.
func runAs(t *testing.T, uid uint32, bin, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	if uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
}
