//go:build unix

package main

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/snapshot"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// repoEnv is one repository with its own cache and home directories, all
// under the test's temporary directory, and the environment the binary
// runs with to use them.
type repoEnv struct {
	bin   string
	repo  string
	cache string
	env   []string
}

// newRepoEnv returns a repoEnv for a repository that does not exist yet;
// WIMSNAP_REPOSITORY names it.
func newRepoEnv(t *testing.T, bin string) *repoEnv {
	t.Helper()
	dir := t.TempDir()
	r := &repoEnv{bin: bin, repo: filepath.Join(dir, "repo"), cache: filepath.Join(dir, "cache")}
	r.env = []string{"HOME=" + filepath.Join(dir, "home"), envRepository + "=" + r.repo, envCacheDir + "=" + r.cache}
	return r
}

// run runs wimsnap args and fails the test unless it exits with want.
func (r *repoEnv) run(t *testing.T, want int, args ...string) result {
	t.Helper()
	res := runBin(t, r.bin, r.env, args...)
	if res.code != want {
		t.Fatalf("wimsnap %s: exit %d, want %d\nstdout: %s\nstderr: %s",
			strings.Join(args, " "), res.code, want, res.stdout, res.stderr)
	}
	return res
}

// runJSON runs wimsnap args --json, fails the test unless it exits with
// want, and decodes stdout into v.
func (r *repoEnv) runJSON(t *testing.T, want int, v any, args ...string) result {
	t.Helper()
	res := r.run(t, want, append(args, "--json")...)
	if err := json.Unmarshal([]byte(res.stdout), v); err != nil {
		t.Fatalf("wimsnap %s --json: %v\n%s", strings.Join(args, " "), err, res.stdout)
	}
	return res
}

// snapshot takes a snapshot of src, which must succeed.
func (r *repoEnv) snapshot(t *testing.T, src string, args ...string) snapshotSummary {
	t.Helper()
	var s snapshotSummary
	r.runJSON(t, exitOK, &s, append([]string{"snapshot", src}, args...)...)
	return s
}

// snapshotIDs lists the repository's snapshot ids, oldest first.
func (r *repoEnv) snapshotIDs(t *testing.T) []string {
	t.Helper()
	var doc struct {
		Repository string         `json:"repository"`
		Snapshots  []manifestJSON `json:"snapshots"`
	}
	r.runJSON(t, exitOK, &doc, "snapshots")
	ids := make([]string, len(doc.Snapshots))
	for i, m := range doc.Snapshots {
		ids[i] = m.ID
	}
	return ids
}

// check runs check with args and the exit code want.
func (r *repoEnv) check(t *testing.T, want int, args ...string) checkSummary {
	t.Helper()
	var c checkSummary
	r.runJSON(t, want, &c, append([]string{"check"}, args...)...)
	return c
}

// requireOK fails the test unless c reports a whole repository.
func requireOK(t *testing.T, c checkSummary) {
	t.Helper()
	if !c.OK || len(c.Problems) != 0 || len(c.Damaged) != 0 {
		t.Fatalf("check: ok %v, problems %q, damaged %q", c.OK, c.Problems, c.Damaged)
	}
}

// filesToRead counts the regular files below dir that a snapshot without
// a parent opens: those with contents, each inode once.
func filesToRead(t *testing.T, dir string) int64 {
	t.Helper()
	seen := map[[2]uint64]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		if st.Size > 0 {
			seen[[2]uint64{st.Dev, st.Ino}] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(seen))
}

// treeState describes every entry below dir by type and mode, size,
// mtime, inode, symlink target and contents, to tell whether a command
// left the tree alone.
func treeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	state := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		desc := fmt.Sprintf("mode %o size %d mtime %d inode %d", st.Mode, st.Size, st.Mtim.Nano(), st.Ino)
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFLNK:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		case syscall.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" sha256 %x", sha256.Sum256(b))
		}
		rel, err := filepath.Rel(dir, p)
		state[rel] = desc
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return state
}

// sameState reports every difference between two treeState results.
func sameState(t *testing.T, what string, want, got map[string]string) {
	t.Helper()
	var diffs []string
	for p, w := range want {
		if g, ok := got[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%q removed", p))
		} else if g != w {
			diffs = append(diffs, fmt.Sprintf("%q: %s, was %s", p, g, w))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%q added", p))
		}
	}
	if len(diffs) > 0 {
		slices.Sort(diffs)
		t.Errorf("%s changed the tree (%d differences):\n%s", what, len(diffs), strings.Join(diffs[:min(len(diffs), 20)], "\n"))
	}
}

// writeFile writes data to dir/rel, making its directory.
func writeFile(t *testing.T, dir, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// randomBytes returns n bytes from a generator seeded with seed.
func randomBytes(seed uint64, n int) []byte {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b) // never fails
	return b
}

func TestRepoDefaultRepository(t *testing.T) {
	bin := buildBinary(t)
	src := filepath.Join(t.TempDir(), "src")
	makeTree(t, src)

	t.Run("created by snapshot", func(t *testing.T) {
		tests := []struct {
			name string
			xdg  bool // set XDG_DATA_HOME
		}{
			{name: "under HOME"},
			{name: "under XDG_DATA_HOME", xdg: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				dir := t.TempDir()
				home := filepath.Join(dir, "home")
				r := &repoEnv{bin: bin, env: []string{"HOME=" + home}}
				want := filepath.Join(home, ".local", "share", "wimsnap", "repository")
				if tt.xdg {
					r.env = append(r.env, "XDG_DATA_HOME="+filepath.Join(dir, "xdg"))
					want = filepath.Join(dir, "xdg", "wimsnap", "repository")
				}
				res := r.run(t, exitNoRepo, "snapshots")
				if !strings.Contains(res.stderr, want) {
					t.Errorf("snapshots before any snapshot: stderr %q does not name %s", res.stderr, want)
				}
				var s snapshotSummary
				res = r.runJSON(t, exitOK, &s, "snapshot", src)
				if s.Repository != want || !strings.Contains(res.stderr, "created the default repository "+want) {
					t.Errorf("snapshot: repository %q, stderr %q; want %s created", s.Repository, res.stderr, want)
				}
				if _, err := os.Stat(filepath.Join(want, "config")); err != nil {
					t.Errorf("no repository config: %v", err)
				}
				if _, err := os.Stat(filepath.Join(home, ".cache", "wimsnap", "index")); err != nil {
					t.Errorf("no default cache directory: %v", err)
				}
				if ids := r.snapshotIDs(t); !slices.Equal(ids, []string{s.Snapshot}) {
					t.Errorf("snapshots = %q, want [%s]", ids, s.Snapshot)
				}
				res = r.run(t, exitOK, "snapshot", src)
				if strings.Contains(res.stderr, "created") {
					t.Errorf("second snapshot created the repository again: %q", res.stderr)
				}
				if ids := r.snapshotIDs(t); len(ids) != 2 {
					t.Errorf("snapshots after two: %q", ids)
				}
			})
		}
	})

	t.Run("missing explicit repository", func(t *testing.T) {
		dir := t.TempDir()
		missing := filepath.Join(dir, "nothing-here")
		cmds := []struct {
			name string
			args []string
		}{
			{"snapshot", []string{"snapshot", src}},
			{"snapshots", []string{"snapshots"}},
			{"restore", []string{"restore", "latest", "--target", filepath.Join(dir, "target")}},
			{"export", []string{"export", "latest", filepath.Join(dir, "out.wim")}},
			{"check", []string{"check"}},
			{"check --read-data", []string{"check", "--read-data"}},
			{"rebuild-index", []string{"rebuild-index"}},
			{"stats", []string{"stats"}},
		}
		for _, how := range []string{"--repo", envRepository} {
			for _, cmd := range cmds {
				t.Run(how+" "+cmd.name, func(t *testing.T) {
					r := &repoEnv{bin: bin, env: []string{"HOME=" + filepath.Join(dir, "home"), envCacheDir + "=" + filepath.Join(dir, "cache")}}
					args := slices.Clone(cmd.args)
					if how == "--repo" {
						args = append(args, "--repo", missing)
					} else {
						r.env = append(r.env, envRepository+"="+missing)
					}
					res := r.run(t, exitNoRepo, args...)
					if !strings.HasPrefix(res.stderr, "wimsnap: ") || !strings.Contains(res.stderr, "no repository") ||
						!strings.Contains(res.stderr, missing) || !strings.Contains(res.stderr, "wimsnap init") {
						t.Errorf("stderr %q: want the missing repository named and 'wimsnap init' suggested", res.stderr)
					}
					if _, err := os.Lstat(missing); err == nil {
						t.Errorf("%s was created", missing)
					}
					if _, err := os.Lstat(filepath.Join(dir, "home", ".local")); err == nil {
						t.Error("the default repository was created")
					}
				})
			}
		}
	})
}

func TestRepoSnapshotRestoreExport(t *testing.T) {
	bin := buildBinary(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	r := newRepoEnv(t, bin)

	var ini struct {
		Repository string `json:"repository"`
		Codec      string `json:"codec"`
		ChunkSize  int    `json:"chunk_size"`
	}
	r.runJSON(t, exitOK, &ini, "init")
	if ini.Repository != r.repo || ini.Codec != "xpress" || ini.ChunkSize != 32768 {
		t.Errorf("init = %+v", ini)
	}
	if res := r.run(t, exitFailure, "init"); !strings.Contains(res.stderr, "exists") {
		t.Errorf("second init: stderr %q", res.stderr)
	}

	s1 := r.snapshot(t, src, "--host=testhost", "--tag=daily", "--tag=before", "--name=first", "--description=one")
	abs, _ := filepath.Abs(src)
	if want := filesToRead(t, src); s1.FilesRead != want || s1.Reused != 0 || s1.Skipped != 0 || s1.Parent != "" {
		t.Errorf("first snapshot: files_read %d (want %d), files_unchanged %d, skipped %d, parent %q",
			s1.FilesRead, want, s1.Reused, s1.Skipped, s1.Parent)
	}
	if s1.Host != "testhost" || !slices.Equal(s1.Tags, []string{"daily", "before"}) || s1.Image.Name != "first" ||
		s1.Image.Description != "one" || s1.Source != abs || s1.Repository != r.repo || s1.ShortID != s1.Snapshot[:8] {
		t.Errorf("first snapshot: %+v", s1)
	}
	if s1.Files == 0 || s1.Dirs == 0 || s1.Symlinks == 0 || s1.NewChunks == 0 || s1.Packs == 0 || s1.Warnings == nil {
		t.Errorf("first snapshot counts: %+v", s1)
	}
	restored1 := filepath.Join(tmp, "restored1")
	r.run(t, exitOK, "restore", s1.Snapshot, "--target", restored1)
	compareTrees(t, src, restored1)

	s2 := r.snapshot(t, src, "--host=testhost")
	if s2.FilesRead != 0 || s2.Reused == 0 || s2.Parent != s1.Snapshot || s2.Files != s1.Files || s2.Image.Name != "src" {
		t.Errorf("unchanged snapshot: files_read %d, files_unchanged %d, parent %q (want %s), files %d, name %q",
			s2.FilesRead, s2.Reused, s2.Parent, s1.Snapshot, s2.Files, s2.Image.Name)
	}
	if s2.Snapshot == s1.Snapshot {
		t.Error("second snapshot has the first one's id")
	}

	writeFile(t, src, "small.txt", []byte("hello again, wim\n"))
	writeFile(t, src, "data/new.bin", randomBytes(99, 50000))
	s3 := r.snapshot(t, src, "--host=testhost")
	if s3.FilesRead != 2 || s3.Parent != s2.Snapshot || s3.Files != s1.Files+1 || s3.NewChunks == 0 {
		t.Errorf("snapshot after 1 change and 1 addition: files_read %d (want 2), parent %q (want %s), files %d (want %d), new_chunks %d",
			s3.FilesRead, s3.Parent, s2.Snapshot, s3.Files, s1.Files+1, s3.NewChunks)
	}
	if ids := r.snapshotIDs(t); !slices.Equal(ids, []string{s1.Snapshot, s2.Snapshot, s3.Snapshot}) {
		t.Errorf("snapshots = %q", ids)
	}

	t.Run("restore latest", func(t *testing.T) {
		target := filepath.Join(tmp, "restored3")
		var sum restoreSummary
		r.runJSON(t, exitOK, &sum, "restore", "latest", "--target", target)
		compareTrees(t, src, target)
		if sum.Snapshot != s3.Snapshot || sum.Files != s3.Files || sum.Unchanged != 0 || sum.Bytes == 0 || sum.DryRun {
			t.Errorf("restore summary = %+v", sum)
		}
	})

	t.Run("restore by prefix", func(t *testing.T) {
		target := filepath.Join(tmp, "restored2")
		r.run(t, exitOK, "restore", s2.Snapshot[:10], "--target", target)
		compareTrees(t, restored1, target)
		res := r.run(t, exitFailure, "restore", "ffffffffffff", "--target", target)
		if !strings.Contains(res.stderr, "no such snapshot") {
			t.Errorf("restore of an unknown id: stderr %q", res.stderr)
		}
	})

	t.Run("export", func(t *testing.T) {
		wimtest.Require(t, "wimlib-imagex")
		out := filepath.Join(tmp, "out.wim")
		var sum exportSummary
		r.runJSON(t, exitOK, &sum, "export", s1.ShortID, "latest", out)
		if sum.Images != 2 || !slices.Equal(sum.Snapshots, []string{s1.Snapshot, s3.Snapshot}) || sum.CopiedChunks == 0 {
			t.Errorf("export summary = %+v", sum)
		}
		wimtest.Wimlib(t, "verify", out)
		info := wimtest.Wimlib(t, "info", out)
		if !strings.Contains(info, "first") {
			t.Errorf("wimlib-imagex info lacks the image name \"first\":\n%s", info)
		}
		dir1, dir2 := filepath.Join(tmp, "wimlib1"), filepath.Join(tmp, "wimlib2")
		wimtest.Wimlib(t, "apply", out, "1", dir1, "--unix-data")
		compareTrees(t, restored1, dir1)
		wimtest.Wimlib(t, "apply", out, "2", dir2, "--unix-data")
		compareTrees(t, src, dir2)
	})

	t.Run("check", func(t *testing.T) {
		for _, args := range [][]string{nil, {"--read-data"}} {
			c := r.check(t, exitOK, args...)
			requireOK(t, c)
			if c.Snapshots != 3 || c.Packs == 0 || c.Chunks == 0 || c.Unreferenced != 0 || c.Repository != r.repo {
				t.Errorf("check %v = %+v", args, c)
			}
			if len(args) > 0 && c.PacksRead != c.Packs {
				t.Errorf("check --read-data read %d of %d packs", c.PacksRead, c.Packs)
			}
		}
	})
}

// modifyForRollback changes the tree made by MakeTree at dir in every way
// a rollback must undo and returns how many of its files, symlinks and
// special files it touched.
func modifyForRollback(t *testing.T, dir string) int64 {
	t.Helper()
	writeFile(t, dir, "small.txt", []byte("HELLO, WIM\n")) // same size, new contents
	if err := os.Chmod(filepath.Join(dir, "modes/readonly"), 0o666); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "extra.txt", []byte("not in the snapshot"))
	writeFile(t, dir, "extradir/inner/file", []byte("not in the snapshot either"))
	if err := os.Remove(filepath.Join(dir, "data/random-100.bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "data/random-4095.bin")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "data/random-4095.bin/in-the-way", []byte("a directory where a file was"))
	// The chmod'ed file keeps its contents: only its mode is set, and it
	// counts as unchanged.
	return 3
}

func TestRepoRollback(t *testing.T) {
	bin := buildBinary(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	r := newRepoEnv(t, bin)
	r.run(t, exitOK, "init")
	s := r.snapshot(t, src)
	target := filepath.Join(tmp, "target")
	r.run(t, exitOK, "restore", "latest", "--target", target)
	compareTrees(t, src, target)
	entries := s.Files + s.Symlinks + s.Special // what "unchanged" counts

	touched := modifyForRollback(t, target)
	before := treeState(t, target)
	var dry restoreSummary
	r.runJSON(t, exitOK, &dry, "restore", "latest", "--target", target, "--delete", "--dry-run")
	sameState(t, "restore --dry-run", before, treeState(t, target))

	var sum restoreSummary
	r.runJSON(t, exitOK, &sum, "restore", "latest", "--target", target, "--delete")
	compareTrees(t, src, target)
	// extra.txt, extradir and the directory in the way at least.
	if sum.Deleted < 3 || sum.Unchanged != entries-touched || sum.Bytes == 0 || sum.Files != s.Files || sum.DryRun {
		t.Errorf("rollback: deleted %d (want >= 3), unchanged %d (want %d), bytes %d, files %d (want %d)",
			sum.Deleted, sum.Unchanged, entries-touched, sum.Bytes, sum.Files, s.Files)
	}
	if sum.MetadataFixed != 1 { // the chmod'ed file
		t.Errorf("rollback: metadata fixed on %d entries kept, want 1", sum.MetadataFixed)
	}
	// A dry run does not hash contents, so the chmod'ed file may count as
	// written; otherwise it predicts the restore, deletions included.
	if !dry.DryRun || dry.Deleted != sum.Deleted || dry.Bytes == 0 || dry.Files != sum.Files ||
		dry.Unchanged > sum.Unchanged || dry.Unchanged < sum.Unchanged-1 {
		t.Errorf("dry run: dry_run %v, deleted %d, bytes %d, files %d, unchanged %d; the restore: files %d, unchanged %d",
			dry.DryRun, dry.Deleted, dry.Bytes, dry.Files, dry.Unchanged, sum.Files, sum.Unchanged)
	}
	t.Logf("dry run: deleted %d, bytes %d, unchanged %d; restore: deleted %d, bytes %d, unchanged %d",
		dry.Deleted, dry.Bytes, dry.Unchanged, sum.Deleted, sum.Bytes, sum.Unchanged)
	if left, _ := filepath.Glob(filepath.Join(target, "*", ".*tmp*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	before = treeState(t, target)
	var again restoreSummary
	r.runJSON(t, exitOK, &again, "restore", "latest", "--target", target, "--delete")
	if again.Unchanged != entries || again.MetadataFixed != 0 || again.Bytes != 0 || again.Deleted != 0 || again.Files != s.Files {
		t.Errorf("second rollback: unchanged %d (want %d), bytes %d, deleted %d", again.Unchanged, entries, again.Bytes, again.Deleted)
	}
	sameState(t, "a second identical restore", before, treeState(t, target))

	t.Run("filters", func(t *testing.T) {
		tests := []struct {
			name string
			args []string
		}{
			{name: "exclude a directory", args: []string{"--exclude=/names"}},
			{name: "exclude a base name", args: []string{"--exclude", "names"}},
			{name: "exclude a pattern", args: []string{"--exclude=/nam*"}},
			{name: "include the rest", args: []string{"--include=/data", "--include=/small.txt", "--include=/modes"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r.run(t, exitOK, "restore", "latest", "--target", target, "--delete")
				compareTrees(t, src, target)
				writeFile(t, target, "names/a", []byte("changed"))
				writeFile(t, target, "names/extra", []byte("added"))
				if err := os.Remove(filepath.Join(target, "names/B")); err != nil {
					t.Fatal(err)
				}
				writeFile(t, target, "small.txt", []byte("changed"))
				writeFile(t, target, "data/extra", []byte("added"))
				kept := treeState(t, filepath.Join(target, "names"))
				var sum restoreSummary
				r.runJSON(t, exitOK, &sum, append([]string{"restore", "latest", "--target", target, "--delete"}, tt.args...)...)
				sameState(t, "restore "+strings.Join(tt.args, " "), kept, treeState(t, filepath.Join(target, "names")))
				wimtest.CompareTrees(t, src, target, wimtest.CompareOptions{IgnorePaths: []string{"names"}})
				if sum.Deleted != 1 {
					t.Errorf("deleted %d, want 1 (data/extra)", sum.Deleted)
				}
			})
		}
	})
}

// killedSnapshot starts a snapshot of src, kills it with SIGKILL after
// delay, and reports whether it finished first.
func (r *repoEnv) killedSnapshot(t *testing.T, src string, delay time.Duration) bool {
	t.Helper()
	cmd := exec.Command(r.bin, "snapshot", src, "--host=h", "--json")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, r.env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(delay)
	_ = cmd.Process.Kill() // fails only when it has been waited for
	err := cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled() && ws.Signal() == syscall.SIGKILL:
		return false
	case err != nil:
		t.Fatalf("snapshot killed after %v: %v", delay, err)
	}
	return true
}

// TestRepoSnapshotKilled kills snapshots at random points: the repository
// stays whole (a killed snapshot leaves only unreferenced packs) and keeps
// every snapshot committed before.
func TestRepoSnapshotKilled(t *testing.T) {
	bin := buildBinary(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	const bigFiles, bigSize = 32, 1280 << 10 // 40 MiB
	// rewrite gives the big files contents new in round, so that every
	// snapshot stores 40 MiB in three packs.
	rewrite := func(round int) {
		for i := range bigFiles {
			writeFile(t, src, fmt.Sprintf("big/%02d.bin", i), randomBytes(uint64(round*bigFiles+i), bigSize))
		}
	}
	rewrite(0)
	r := newRepoEnv(t, bin)
	r.run(t, exitOK, "init")
	known := []string{r.snapshot(t, src, "--host=h").Snapshot}
	rewrite(1)
	start := time.Now()
	known = append(known, r.snapshot(t, src, "--host=h").Snapshot)
	typical := time.Since(start)
	t.Logf("a snapshot takes %v", typical)

	const rounds = 15
	rnd := rand.New(rand.NewPCG(1, 2))
	kills := 0
	for i := range rounds {
		rewrite(i + 2)
		if i%5 == 4 {
			known = append(known, r.snapshot(t, src, "--host=h").Snapshot)
			continue
		}
		// From the start to a little after the typical end, so that kills
		// hit every phase and a few runs finish.
		delay := time.Duration((float64(i) + rnd.Float64()) / rounds * 1.1 * float64(typical))
		if !r.killedSnapshot(t, src, delay) {
			kills++
		}
		requireOK(t, r.check(t, exitOK))
		ids := r.snapshotIDs(t)
		for _, id := range known {
			if !slices.Contains(ids, id) {
				t.Fatalf("after a kill at %v: snapshot %s is gone; listed: %q", delay, id, ids)
			}
		}
		known = ids // a snapshot killed after storing its manifest counts too
	}
	t.Logf("%d snapshots killed, %d finished before the kill", kills, rounds-rounds/5-kills)

	rewrite(rounds + 2)
	last := r.snapshot(t, src, "--host=h")
	if ids := r.snapshotIDs(t); ids[len(ids)-1] != last.Snapshot || len(ids) != len(known)+1 {
		t.Errorf("snapshots at the end: %q, want %q and %s", ids, known, last.Snapshot)
	}
	target := filepath.Join(tmp, "target")
	r.run(t, exitOK, "restore", "latest", "--target", target)
	compareTrees(t, src, target)
	c := r.check(t, exitOK, "--read-data")
	requireOK(t, c)
	t.Logf("check --read-data: %d packs, %d unreferenced, %.1fs", c.Packs, c.Unreferenced, c.DurationSeconds)
}

func TestRepoIndexLoss(t *testing.T) {
	bin := buildBinary(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	r := newRepoEnv(t, bin)
	r.run(t, exitOK, "init")
	first := r.snapshot(t, src)
	if !first.Index.Rebuilt || first.Index.Reason != "missing" {
		t.Errorf("first snapshot into an empty cache: index %+v", first.Index)
	}
	dbFile := func(t *testing.T) string {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(r.cache, "*.db"))
		if len(files) != 1 {
			t.Fatalf("index files in %s: %q, want one", r.cache, files)
		}
		return files[0]
	}
	dbFile(t)

	damages := []struct {
		name   string
		damage func(t *testing.T)
		reason string // of the rebuild the snapshot reports; "": not checked
	}{
		{name: "cache deleted", reason: "missing", damage: func(t *testing.T) {
			t.Helper()

			if err := os.RemoveAll(r.cache); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "index is garbage", reason: "corrupt", damage: func(t *testing.T) {
			t.Helper()

			garbage := []byte(strings.Repeat("this is not a bbolt file\n", 1000))
			if err := os.WriteFile(dbFile(t), garbage, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		// bbolt takes an empty file for a new database, which is then
		// filled from the repository; how that is reported is left open.
		{name: "index is empty", damage: func(t *testing.T) {
			t.Helper()

			if err := os.Truncate(dbFile(t), 0); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			t.Run("snapshots", func(t *testing.T) {
				d.damage(t)
				ids := r.snapshotIDs(t)
				if len(ids) == 0 || ids[0] != first.Snapshot {
					t.Errorf("snapshots = %q", ids)
				}
			})
			t.Run("restore", func(t *testing.T) {
				d.damage(t)
				target := filepath.Join(t.TempDir(), "target")
				r.run(t, exitOK, "restore", first.Snapshot, "--target", target)
				compareTrees(t, src, target)
			})
			t.Run("check", func(t *testing.T) {
				d.damage(t)
				requireOK(t, r.check(t, exitOK))
			})
			t.Run("snapshot", func(t *testing.T) {
				d.damage(t)
				s := r.snapshot(t, src)
				if d.reason != "" && (!s.Index.Rebuilt || s.Index.Reason != d.reason) || s.Index.Snapshots == 0 || s.Index.Indexes == 0 {
					t.Errorf("index = %+v, want rebuilt for %q", s.Index, d.reason)
				}
				if d.reason == "corrupt" && (s.WarningsTotal == 0 || !strings.Contains(fmt.Sprint(s.Warnings), "rebuilding")) {
					t.Errorf("no warning about the rebuilt index: %+v", s.Warnings)
				}
				if s.Parent == "" {
					t.Error("snapshot after an index rebuild has no parent")
				}
			})
			t.Run("snapshot text", func(t *testing.T) {
				d.damage(t)
				res := r.run(t, exitOK, "snapshot", src)
				if d.reason == "corrupt" && !strings.Contains(res.stderr, "wimsnap: warning: ") {
					t.Errorf("no warning about the rebuilt index: stderr %q", res.stderr)
				}
			})
		})
	}

	t.Run("rebuild-index", func(t *testing.T) {
		want := len(r.snapshotIDs(t))
		var st snapshot.SyncStats
		r.runJSON(t, exitOK, &st, "rebuild-index")
		if !st.Rebuilt || st.Reason != "asked" || st.Snapshots != want || st.Indexes == 0 || st.Damaged != 0 {
			t.Errorf("rebuild-index = %+v, want %d manifests read", st, want)
		}
		if ids := r.snapshotIDs(t); len(ids) != want {
			t.Errorf("snapshots after rebuild-index: %d, want %d", len(ids), want)
		}
		res := r.run(t, exitOK, "rebuild-index")
		if !strings.Contains(res.stdout, "Rebuilt") {
			t.Errorf("rebuild-index text: %q", res.stdout)
		}
	})
}

// packFiles lists the pack files of the repository at repo.
func packFiles(t *testing.T, repo string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repo, "packs", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestRepoDamage(t *testing.T) {
	bin := buildBinary(t)
	src := filepath.Join(t.TempDir(), "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})

	tests := []struct {
		name   string
		second bool // delete a pack of the second snapshot, else one of the first
	}{
		{name: "pack of the first snapshot"},
		{name: "pack of the second snapshot", second: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRepoEnv(t, bin)
			r.run(t, exitOK, "init")
			s1 := r.snapshot(t, src)
			packs1 := packFiles(t, r.repo)
			// The second snapshot adds one new file to the first's tree.
			changed := filepath.Join(t.TempDir(), "src")
			r.run(t, exitOK, "restore", s1.Snapshot, "--target", changed)
			writeFile(t, changed, "data/new.bin", randomBytes(7, 200000))
			s2 := r.snapshot(t, changed)
			var packs2 []string
			for _, p := range packFiles(t, r.repo) {
				if !slices.Contains(packs1, p) {
					packs2 = append(packs2, p)
				}
			}
			if len(packs1) == 0 || len(packs2) == 0 {
				t.Fatalf("packs of the snapshots: %q and %q", packs1, packs2)
			}
			victim := packs1[0]
			if tt.second {
				victim = packs2[0]
			}
			if err := os.Remove(victim); err != nil {
				t.Fatal(err)
			}
			name := filepath.Base(victim)

			// Every pack of the first snapshot holds chunks of its files,
			// which the second shares; the second's packs hold only its new
			// file and its metadata. Damaged snapshots are listed oldest first.
			wantDamaged := []string{s1.Snapshot, s2.Snapshot}
			if tt.second {
				wantDamaged = wantDamaged[1:]
			}
			var c checkSummary
			res := r.runJSON(t, exitFailure, &c, "check")
			if c.Snapshots != 2 {
				t.Fatalf("check saw %d snapshots, want 2; problems %q; stderr %q", c.Snapshots, c.Problems, res.stderr)
			}
			for _, c := range []checkSummary{c, r.check(t, exitFailure, "--read-data")} {
				if c.OK || !strings.Contains(strings.Join(c.Problems, "\n"), name) {
					t.Errorf("check: ok %v, problems %q; want pack %s named", c.OK, c.Problems, name)
				}
				if !slices.Equal(c.Damaged, wantDamaged) {
					t.Errorf("check: damaged snapshots %q, want %q", c.Damaged, wantDamaged)
				}
			}
			res = r.run(t, exitFailure, "check")
			if !strings.Contains(res.stdout, "problem: pack "+name) || !strings.Contains(res.stdout, "damaged snapshot: "+s2.Snapshot) {
				t.Errorf("check text output:\n%s", res.stdout)
			}
			// A rebuilt index says that data is missing (exit 1).
			var st snapshot.SyncStats
			res = r.runJSON(t, exitFailure, &st, "rebuild-index")
			if st.MissingPacks != 1 || !strings.Contains(res.stderr, "repair") {
				t.Errorf("rebuild-index with a pack gone: %+v, stderr %q", st, res.stderr)
			}

			for _, s := range []snapshotSummary{s1, s2} {
				target := filepath.Join(t.TempDir(), "target")
				res := runBin(t, bin, r.env, "restore", s.Snapshot, "--target", target)
				switch {
				case slices.Contains(c.Damaged, s.Snapshot):
					if res.code == exitOK || !strings.HasPrefix(res.stderr, "wimsnap: ") {
						t.Errorf("restore of damaged snapshot %s: exit %d, stderr %q; want an error", s.ShortID, res.code, res.stderr)
					}
				case res.code != exitOK:
					t.Errorf("restore of whole snapshot %s: exit %d, stderr %q", s.ShortID, res.code, res.stderr)
				default:
					compareTrees(t, src, target)
				}
			}
		})
	}
}

// TestRepoSnapshotLeavesRepositoryOut: a snapshot of a tree that holds
// the local repository and its cache (as / holds the default ones) leaves
// both out, so that snapshots of the unchanged tree read and store
// nothing.
func TestRepoSnapshotLeavesRepositoryOut(t *testing.T) {
	bin := buildBinary(t)
	src := filepath.Join(t.TempDir(), "src")
	makeTree(t, src)
	r := &repoEnv{bin: bin, repo: filepath.Join(src, "var", "repo"), cache: filepath.Join(src, "cache")}
	r.env = []string{"HOME=" + filepath.Join(src, "home"), envRepository + "=" + r.repo, envCacheDir + "=" + r.cache}
	r.run(t, exitOK, "init")
	first := r.snapshot(t, src) // makes the cache: the tree's top directory changes
	r.snapshot(t, src)
	for i := range 2 {
		s := r.snapshot(t, src)
		if s.FilesRead != 0 || s.NewStored != 0 || s.Files != first.Files {
			t.Errorf("snapshot %d of the unchanged tree: read %d files, stored %d bytes, %d files (first: %d)",
				i+3, s.FilesRead, s.NewStored, s.Files, first.Files)
		}
	}
	res := r.run(t, exitOK, "ls", "latest", "/var")
	if strings.Contains(res.stdout, "repo") {
		t.Errorf("the snapshot holds the repository:\n%s", res.stdout)
	}
}

// TestRepoExportDamaged: export of a snapshot whose pack has a flipped byte
// fails (exit 1, naming the stream and pointing at check --read-data) and
// leaves no WIM, instead of copying the damage into a WIM that fails to
// verify; export onto a directory fails before any work.
func TestRepoExportDamaged(t *testing.T) {
	bin := buildBinary(t)
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, src, "data.bin", randomBytes(3, 300000))
	writeFile(t, src, "text.txt", []byte(strings.Repeat("compressible text ", 20000)))
	r := newRepoEnv(t, bin)
	r.run(t, exitOK, "init")
	r.snapshot(t, src)
	out := filepath.Join(t.TempDir(), "out.wim")
	r.run(t, exitOK, "export", "latest", out)
	if err := os.Remove(out); err != nil {
		t.Fatal(err)
	}
	res := r.run(t, exitFailure, "export", "latest", t.TempDir())
	if !strings.Contains(res.stderr, "is a directory") {
		t.Errorf("export onto a directory: %q", res.stderr)
	}
	for _, p := range packFiles(t, r.repo) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/3] ^= 0x40 // in the chunks, before the trailer
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res = r.run(t, exitFailure, "export", "latest", out)
	if !strings.Contains(res.stderr, "stream") || !strings.Contains(res.stderr, "check --read-data") {
		t.Errorf("export of damaged chunks: stderr %q", res.stderr)
	}
	if _, err := os.Lstat(out); !os.IsNotExist(err) {
		t.Errorf("a WIM was left: %v", err)
	}
	// restore --json of the damaged snapshot still prints its document,
	// naming the damaged file, with the error.
	var doc struct {
		Files    int64     `json:"files"`
		Warnings []warning `json:"warnings"`
		Error    string    `json:"error"`
	}
	res = r.runJSON(t, exitFailure, &doc, "restore", "latest", "--target", filepath.Join(t.TempDir(), "t"))
	if doc.Error == "" || len(doc.Warnings) == 0 || doc.Files != 1 {
		t.Errorf("restore --json of damaged data: %+v\nstderr %q", doc, res.stderr)
	}
}

// TestRepoForgetPruneDryRun: forget --prune --dry-run previews the prune
// that would follow the forget (as if its snapshots were gone), so it
// frees what the real run then frees.
func TestRepoForgetPruneDryRun(t *testing.T) {
	bin := buildBinary(t)
	src := filepath.Join(t.TempDir(), "src")
	r := newRepoEnv(t, bin)
	r.run(t, exitOK, "init")
	for i := range 4 {
		if err := os.RemoveAll(src); err != nil {
			t.Fatal(err)
		}
		writeFile(t, src, fmt.Sprintf("f%d.bin", i), randomBytes(uint64(i+20), 40000))
		r.snapshot(t, src)
	}
	var plan, done forgetSummary
	r.runJSON(t, exitOK, &plan, "forget", "--keep-last=1", "--prune", "--dry-run", "--max-unused=0%")
	r.runJSON(t, exitOK, &done, "forget", "--keep-last=1", "--prune", "--max-unused=0%")
	if plan.Prune == nil || done.Prune == nil || plan.Prune.BytesFreed <= 0 ||
		plan.Prune.BytesFreed != done.Prune.BytesFreed || plan.Prune.Snapshots != done.Prune.Snapshots {
		t.Errorf("dry run %+v, run %+v: the preview is not the prune", plan.Prune, done.Prune)
	}
}

// TestApplyDamagedWIM: apply of a WIM with a flipped byte in a stream
// applies the rest, prints its summary, names the file, and fails (exit 1,
// as verify does), not a partial success (exit 3). The damaged file is
// counted skipped, not applied, and not left behind empty.
func TestApplyDamagedWIM(t *testing.T) {
	bin := buildBinary(t)
	tmp := t.TempDir()
	src, wimPath := filepath.Join(tmp, "src"), filepath.Join(tmp, "x.wim")
	writeFile(t, src, "big.bin", randomBytes(5, 300000))
	writeFile(t, src, "small.txt", []byte("fine"))
	if res := runBin(t, bin, nil, "capture", src, wimPath); res.code != exitOK {
		t.Fatalf("capture: %d %s", res.code, res.stderr)
	}
	b, err := os.ReadFile(wimPath)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0x10 // in big.bin's stream
	if err := os.WriteFile(wimPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	res := runBin(t, bin, nil, "apply", wimPath, filepath.Join(tmp, "out"), "--json")
	var sum applySummary
	if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil {
		t.Fatalf("stdout %q: %v", res.stdout, err)
	}
	if res.code != exitFailure || !strings.Contains(res.stderr, "damaged") || sum.Files != 1 || sum.Skipped != 1 ||
		sum.Bytes != 4 || len(sum.Warnings) != 1 || !strings.HasSuffix(sum.Warnings[0].Path, "/big.bin") {
		t.Errorf("exit %d, stderr %q, summary %+v", res.code, res.stderr, sum)
	}
	if _, err := os.Lstat(filepath.Join(tmp, "out", "big.bin")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("big.bin, whose data is damaged, was left behind (%v)", err)
	}
	if got, err := os.ReadFile(filepath.Join(tmp, "out", "small.txt")); err != nil || string(got) != "fine" {
		t.Errorf("small.txt: %q, %v", got, err)
	}
}

// TestApplyMissingStream: a WIM whose image names a stream its blob table
// lacks is damaged like one with a flipped byte: apply writes the rest and
// fails (exit 1), as verify does, rather than calling it a partial success.
func TestApplyMissingStream(t *testing.T) {
	bin := buildBinary(t)
	tmp := t.TempDir()
	wimPath := filepath.Join(tmp, "x.wim")
	f, err := os.Create(wimPath)
	if err != nil {
		t.Fatal(err)
	}
	w, err := wim.NewWriter(f, wim.WithCompression(wim.CompressNone))
	if err != nil {
		t.Fatal(err)
	}
	var hs [2]wim.Hash
	for i, s := range []string{"fine", "gone"} {
		if hs[i], err = w.AddStream(strings.NewReader(s), 4); err != nil {
			t.Fatal(err)
		}
	}
	root := &wim.Entry{Attributes: wim.AttrDirectory, SecurityID: -1, Children: []*wim.Entry{
		{Name: "fine.txt", Attributes: wim.AttrNormal, SecurityID: -1, Data: wim.Stream{Hash: hs[0], Size: 4}},
		{Name: "gone.txt", Attributes: wim.AttrNormal, SecurityID: -1, Data: wim.Stream{Hash: hs[1], Size: 4}},
	}}
	if err := w.AddImage(&wim.Metadata{Root: root}, wim.ImageInfo{Name: "missing"}); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(w.Close(), f.Close()); err != nil {
		t.Fatal(err)
	}
	// The blob table, written after the metadata, names gone.txt's stream
	// last in the file: change its entry's hash.
	b, err := os.ReadFile(wimPath)
	if err != nil {
		t.Fatal(err)
	}
	at := strings.LastIndex(string(b), string(hs[1][:]))
	if at < 0 {
		t.Fatal("the stream's hash is not in the file")
	}
	b[at] ^= 0xFF
	if err := os.WriteFile(wimPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if res := runBin(t, bin, nil, "verify", wimPath); res.code != exitFailure {
		t.Errorf("verify: exit %d, %s", res.code, res.stderr)
	}
	res := runBin(t, bin, nil, "apply", wimPath, filepath.Join(tmp, "out"), "--json")
	var sum applySummary
	if err := json.Unmarshal([]byte(res.stdout), &sum); err != nil {
		t.Fatalf("stdout %q: %v", res.stdout, err)
	}
	if res.code != exitFailure || len(sum.Warnings) != 1 || !strings.HasSuffix(sum.Warnings[0].Path, "/gone.txt") ||
		!strings.Contains(sum.Warnings[0].Error, "stream not found") {
		t.Errorf("exit %d, stderr %q, summary %+v", res.code, res.stderr, sum)
	}
	if got, err := os.ReadFile(filepath.Join(tmp, "out", "fine.txt")); err != nil || string(got) != "fine" {
		t.Errorf("fine.txt: %q, %v", got, err)
	}
}

// TestForgetDamagedManifest: a snapshot whose manifest cannot be read is
// named as damaged, with a pointer to forget (a warning where snapshots
// are listed), and forget removes it by its id; the other snapshot stays
// and check passes.
func TestForgetDamagedManifest(t *testing.T) {
	bin := buildBinary(t)
	src := t.TempDir()
	writeFile(t, src, "a.txt", []byte("a"))
	r := newRepoEnv(t, bin)
	r.run(t, exitOK, "init")
	first := r.snapshot(t, src)
	writeFile(t, src, "b.txt", []byte("b"))
	second := r.snapshot(t, src)
	if err := os.WriteFile(filepath.Join(r.repo, "snapshots", first.Snapshot), []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(r.cache); err != nil { // which holds the manifest as it was
		t.Fatal(err)
	}
	// Listed, and resolving latest, it is left out with one warning.
	res := r.run(t, exitOK, "snapshots")
	if strings.Count(res.stderr, "left out") != 1 || !strings.Contains(res.stderr, "forget "+first.ShortID) {
		t.Errorf("snapshots with a damaged manifest: stderr %q", res.stderr)
	}
	// With --json, the warning is in the document (it was on stderr
	// alone, the document listing one snapshot without a word).
	for _, cmd := range []string{"snapshots", "stats"} {
		res = r.run(t, exitOK, cmd, "--json")
		var doc struct {
			Warnings []warning `json:"warnings"`
			Total    int64     `json:"warnings_total"`
		}
		if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil || doc.Total != 1 || len(doc.Warnings) != 1 ||
			!strings.Contains(doc.Warnings[0].Error, "forget "+first.ShortID) || res.stderr != "" {
			t.Errorf("%s --json with a damaged manifest: %v\n%s\nstderr %q", cmd, err, res.stdout, res.stderr)
		}
	}
	res = r.run(t, exitFailure, "restore", first.ShortID, "--target", t.TempDir())
	if !strings.Contains(res.stderr, "damaged") || !strings.Contains(res.stderr, "forget "+first.ShortID) {
		t.Errorf("restore of a damaged snapshot: stderr %q", res.stderr)
	}
	res = r.run(t, exitFailure, "check")
	if !strings.Contains(res.stdout, "'wimsnap forget "+first.ShortID+"' removes it") {
		t.Errorf("check of a damaged manifest: %q", res.stdout)
	}
	var f forgetSummary
	r.runJSON(t, exitOK, &f, "forget", first.ShortID)
	if f.Removed != 1 || len(f.Groups) != 1 || len(f.Groups[0].Remove) != 1 ||
		f.Groups[0].Remove[0].ID != first.Snapshot || !slices.Equal(f.Groups[0].Remove[0].Reasons, []string{"damaged manifest"}) {
		t.Errorf("forget of a damaged snapshot: %+v", f)
	}
	if ids := r.snapshotIDs(t); !slices.Equal(ids, []string{second.Snapshot}) {
		t.Errorf("snapshots after forget: %q, want only %s", ids, second.ShortID)
	}
	requireOK(t, r.check(t, exitOK))
	if res := r.run(t, exitPartial, "forget", first.ShortID); !strings.Contains(res.stderr, "no such snapshot") { // gone now: skipped
		t.Errorf("forget of a snapshot forgotten already: stderr %q", res.stderr)
	}
	// A snapshot without tags lists them as [], as --help names the field.
	if res := r.run(t, exitOK, "snapshots", "--json"); !strings.Contains(res.stdout, `"tags": []`) {
		t.Errorf("snapshots --json without tags: %s", res.stdout)
	}
}
