//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRestoreDryRunForeignEntries: a rollback (restore --delete in place)
// by an unprivileged user over entries of another user (root) is
// predicted by its dry run: the same counts, exit code and number of
// warnings. The restore may not replace root's changed file, symlink or
// FIFO in a sticky directory (mode 1777): it said "rename into place:
// operation not permitted" only after writing the file, and the dry run
// counted them written and exited 0; now both skip them, the restore
// saying that the directory is sticky. Neither may it make a directory or
// replace a file in root's directory of mode 755. Neither may set the
// mode and times of root's directory whose contents or metadata change,
// nor of root's file whose metadata alone changed: the dry run did not
// warn, and the restore warned twice about such a directory ("chmod ...
// times", then "times" again), where it now warns once per entry. As
// root, all goes and both agree as well.
func TestRestoreDryRunForeignEntries(t *testing.T) {
	bin, tmp := binaryForNobody(t)
	cases := []struct {
		name, owner, root string // scripts that change the restored tree T
		sticky            bool   // the restore warns that the directory is sticky
	}{
		{name: "sticky", sticky: true,
			root: "chown 0:0 T/d && chmod 1777 T/d && echo c > T/d/f && chown 0:0 T/d/f && " +
				"ln -sfn elsewhere T/d/l && chown -h 0:0 T/d/l && rm T/d/p && echo x > T/d/p && chown 0:0 T/d/p"},
		{name: "closed", owner: "rm -r T/d/sub",
			root: "chown 0:0 T/d && chmod 755 T/d && echo c > T/d/f && chown 0:0 T/d/f"},
		{name: "open", owner: "echo c > T/d/f && echo x > T/d/extra", root: "chown 0:0 T/d && chmod 777 T/d"},
		{name: "metadata", root: "chown 0:0 T/d/f && touch -d 2001-01-01 T/d/f"},
		{name: "target", owner: "echo x > T/extra", root: "chown 0:0 T && chmod 777 T"},
	}
	for _, user := range []string{"root", "nobody"} {
		t.Run(user, func(t *testing.T) {
			run, sh := dryRunUser(t, bin, filepath.Join(tmp, user), user == "nobody")
			sh(asUser, "mkdir -p src/d/sub && echo f > src/d/f && ln -s f src/d/l && mkfifo src/d/p")
			if code, _ := run("init"); code != exitOK {
				t.Fatal("init failed")
			}
			if code, _ := run("snapshot", "src"); code != exitOK {
				t.Fatal("snapshot failed")
			}
			for _, c := range cases {
				target := "t-" + c.name
				if code, _ := run("restore", "latest", "--target", target); code != exitOK {
					t.Fatalf("%s: first restore failed", c.name)
				}
				sh(asUser, strings.ReplaceAll("true; "+c.owner, "T", target))
				sh(asRoot, strings.ReplaceAll(c.root, "T", target))
				dryCode, dry := run("restore", "latest", "--target", target, "--delete", "--dry-run", "--json")
				code, real := run("restore", "latest", "--target", target, "--delete", "--json")
				if dryCode != code || countsOf(dry) != countsOf(real) || dry.WarningsTotal != real.WarningsTotal {
					t.Errorf("%s: dry run exit %d, %+v\nrestore exit %d, %+v", c.name, dryCode, dry, code, real)
				}
				if user == "root" && (code != exitOK || real.WarningsTotal != 0) {
					t.Errorf("%s: as root: exit %d, %+v", c.name, code, real)
				}
				if user == "nobody" && real.WarningsTotal == 0 {
					t.Errorf("%s: no warning as nobody: %+v", c.name, real)
				}
				wantOnceEach(t, c.name, real, c.sticky && user == "nobody")
			}
		})
	}
}

// wantOnceEach checks that the restore sum of case name warned at most
// once about each path, and, with sticky, that it said of each entry of
// the sticky directory d that it could not replace why.
func wantOnceEach(t *testing.T, name string, sum restoreSummary, sticky bool) {
	t.Helper()
	seen := map[string]bool{}
	for _, w := range sum.Warnings {
		if seen[w.Path] {
			t.Errorf("%s: warned twice about %s: %+v", name, w.Path, sum.Warnings)
		}
		seen[w.Path] = true
		if sticky && strings.Contains(w.Path, "/d/") && !strings.Contains(w.Error, "directory is sticky") {
			t.Errorf("%s: the warning about %s does not say that the directory is sticky: %s", name, w.Path, w.Error)
		}
	}
	if sticky && len(seen) != 4 {
		t.Errorf("%s: want warnings about d, d/f, d/l and d/p: %+v", name, sum.Warnings)
	}
}
