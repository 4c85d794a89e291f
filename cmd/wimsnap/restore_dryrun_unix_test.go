//go:build unix

package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRestoreDryRunDeleteCounts: restore --delete --dry-run counts what
// the restore then does: a directory the snapshot lacks is deleted with
// everything in it, and the dry run counts every entry the restore
// counts, also below directories of modes 555, 000 and 644, as root and
// as an unprivileged owner; where the dry run cannot look inside (mode 000,
// or 644, readable but not searchable, as the owner, which the restore
// opens to itself), it says so instead: of 644 it counted what it holds
// as missing, written anew, or as files, deleted alone. A
// directory another user owns that the restore cannot delete or enter is
// reported and skipped by both alike. It counted such directories as one
// deletion each, without a word. A file in whose place a directory stays
// (it holds one the user cannot delete) is skipped once by both: the
// restore counted it twice, for the deletion and for the file, and the
// dry run counted what a directory the user may not write to holds as
// deleted. In a sticky directory the dry run counted the names of other
// users as deleted, which the restore may not delete.
func TestRestoreDryRunDeleteCounts(t *testing.T) {
	bin, tmp := binaryForNobody(t)
	// What each case adds to a restored tree T, as its owner: nine entries
	// that --delete removes (gone with five below it, and three in d).
	extra := func(mode string) string {
		return "mkdir -p T/gone/deep/deeper T/d/xdir && echo y > T/gone/y && echo z > T/gone/deep/z && " +
			"echo w > T/gone/deep/deeper/w && echo x > T/d/extra && echo q > T/d/xdir/q && " +
			"chmod " + mode + " T/gone/deep/deeper T/gone/deep T/d/xdir T/d"
	}
	for _, user := range []string{"root", "nobody"} {
		t.Run(user, func(t *testing.T) {
			home := filepath.Join(tmp, user)
			run, sh := dryRunUser(t, bin, home, user == "nobody")
			sh(asUser, "mkdir -p src/d src/keep && echo f > src/d/f && echo k > src/keep/k")
			initSnapshot(t, run)
			cases := []struct {
				name, owner, root string // scripts that change the restored tree T
				unlisted          []string
				deleted           map[string]int64 // by the restore, per user; nil: not checked
			}{
				{name: "555", owner: extra("555")},
				{name: "000", owner: extra("000")},
				{name: "644", owner: extra("644")},
				// Not the user's: a directory it cannot delete and one of
				// the snapshot's it cannot enter.
				{name: "foreign", owner: "mkdir T/other && echo o > T/other/o",
					root: "mkdir T/other/foreign && echo r > T/other/foreign/r && chmod 000 T/other/foreign && " +
						"chown 0:0 T/keep && chmod 000 T/keep"},
				// A directory in the way of the file d/f, holding one the
				// user cannot delete: the file is skipped, once.
				{name: "inway", owner: "rm T/d/f && mkdir T/d/f",
					root: "mkdir T/d/f/r && echo r > T/d/f/r/x && chmod 000 T/d/f/r"},
				// The same, the directory it cannot delete readable: the
				// dry run counted what it holds deleted, and the file made.
				{name: "inway-readable", owner: "rm T/d/f && mkdir T/d/f",
					root: "mkdir T/d/f/r && echo r > T/d/f/r/x"},
				// A sticky directory, as /tmp: the user may delete its own
				// names only, also what a directory of another's holds,
				// which then stays. The dry run counted all four deleted.
				{name: "sticky", owner: "echo m > T/d/mine",
					root: "chown 0:0 T/d && chmod 1777 T/d && echo r > T/d/r && mkdir -m 777 T/d/rd && " +
						"echo x > T/d/rd/x && chown 65534:65534 T/d/rd/x",
					deleted: map[string]int64{"root": 4, "nobody": 2}},
			}
			if user == "nobody" {
				cases[1].unlisted = []string{"/gone/deep", "/d"}
				cases[2].unlisted = cases[1].unlisted
			}
			for _, c := range cases {
				target := "t-" + c.name
				if code, _ := run("restore", "latest", "--target", target); code != exitOK {
					t.Fatalf("%s: first restore failed", c.name)
				}
				sh(asUser, strings.ReplaceAll(c.owner, "T/", target+"/"))
				if c.root != "" {
					sh(asRoot, strings.ReplaceAll(c.root, "T/", target+"/"))
				}
				dryCode, dry := run("restore", "latest", "--target", target, "--delete", "--dry-run", "--json")
				code, real := run("restore", "latest", "--target", target, "--delete", "--json")
				if (c.name == "555" || c.name == "000" || c.name == "644") && real.Deleted != 9 {
					t.Errorf("%s: the restore deleted %d entries, want 9", c.name, real.Deleted)
				}
				if c.deleted != nil && real.Deleted != c.deleted[user] {
					t.Errorf("%s: the restore deleted %d entries, want %d as %s", c.name, real.Deleted, c.deleted[user], user)
				}
				if strings.HasPrefix(c.name, "inway") && real.Skipped != map[string]int64{"root": 0, "nobody": 1}[user] {
					t.Errorf("%s: the restore skipped %d entries, want the file alone as %s", c.name, real.Skipped, user)
				}
				if c.unlisted != nil {
					wantUnlisted(t, c.name, dry, c.unlisted)
					continue
				}
				if dryCode != code || countsOf(dry) != countsOf(real) {
					t.Errorf("%s: dry run exit %d, %+v\nrestore exit %d, %+v", c.name, dryCode, dry, code, real)
				}
			}
		})
	}
}

// restoreCounts are the counts of a restore summary.
type restoreCounts struct{ dirs, files, symlinks, special, bytes, unchanged, fixed, deleted, skipped int64 }

func countsOf(s restoreSummary) restoreCounts {
	return restoreCounts{s.Dirs, s.Files, s.Symlinks, s.Special, s.Bytes, s.Unchanged, s.MetadataFixed, s.Deleted, s.Skipped}
}

// wantUnlisted checks that the dry run sum of case name warned, of each of
// paths (from the target), that it could not look inside.
func wantUnlisted(t *testing.T, name string, sum restoreSummary, paths []string) {
	t.Helper()
	for _, p := range paths {
		found := false
		for _, w := range sum.Warnings {
			found = found || strings.HasSuffix(w.Path, p) && strings.Contains(w.Error, "dry run: cannot look inside")
		}
		if !found {
			t.Errorf("%s: no warning that the dry run could not look inside %s: %+v", name, p, sum.Warnings)
		}
	}
}

// Who a script of dryRunUser's sh runs as: the test's user, or root.
const (
	asUser = false
	asRoot = true
)

// initSnapshot makes the repository of a dryRunUser run and a snapshot of
// its src, failing t if either fails.
func initSnapshot(t *testing.T, run func(args ...string) (int, restoreSummary)) {
	t.Helper()
	if code, _ := run("init"); code != exitOK {
		t.Fatal("init failed")
	}
	if code, _ := run("snapshot", "src"); code != exitOK {
		t.Fatal("snapshot failed")
	}
}

// dryRunUser returns run, which runs bin with args in home (made for the
// user, with its repository and cache there) as user 65534 when nobody
// is set, else as the test's user (root), and returns its exit code and
// its --json summary (zero without --json), and sh, which runs a shell
// script in home as that user, or as root with asRoot, and fails the test
// if it fails.
func dryRunUser(t *testing.T, bin, home string, nobody bool) (run func(args ...string) (int, restoreSummary), sh func(asRoot bool, script string)) {
	t.Helper()
	var cred *syscall.SysProcAttr
	sh = func(asRoot bool, script string) {
		t.Helper()
		cmd := exec.Command("sh", "-ec", script)
		cmd.Dir = home
		if !asRoot {
			cmd.SysProcAttr = cred
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
	}
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if nobody {
		cred = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		sh(asRoot, "chown 65534:65534 .")
	}
	env := []string{"HOME=" + home, envCacheDir + "=" + filepath.Join(home, "cache"), envRepository + "=" + filepath.Join(home, "repo")}
	run = func(args ...string) (int, restoreSummary) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env, cmd.Dir, cmd.SysProcAttr = env, home, cred
		out, err := cmd.Output()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		var sum restoreSummary
		if strings.Contains(strings.Join(args, " "), "--json") {
			if err := json.Unmarshal(out, &sum); err != nil {
				t.Fatalf("wimsnap %v: %v\n%s", args, err, out)
			}
		}
		return code, sum
	}
	return run, sh
}
