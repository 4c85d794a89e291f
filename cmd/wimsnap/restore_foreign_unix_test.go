//go:build unix

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRestoreDryRunForeignEntries: a rollback (restore --delete in place)
// by an unprivileged user over entries of another user (root) is
// predicted by its dry run: the same counts, exit code and number of
// warnings. The restore may not replace root's changed file, symlink or
// FIFO in a sticky directory (mode 1777): it said "rename into place:
// operation not permitted" only after writing the file, and the dry run
// counted them written and exited 0; now both skip them, the restore
// saying that the directory is sticky, also of root's symlink where the
// snapshot has a directory ("mkdir: renaming the old entry aside"). Neither may it make a directory or
// replace a file in root's directory of mode 755. Neither may set the
// mode and times of root's directory whose contents or metadata change,
// nor of root's file whose metadata alone changed: the dry run did not
// warn, and the restore warned twice about such a directory ("chmod ...
// times", then "times" again), where it now warns once per entry. As
// root, all goes and both agree as well.
func TestRestoreDryRunForeignEntries(t *testing.T) {
	bin, tmp := binaryForNobody(t)
	testRollbacks(t, bin, tmp, []rollbackCase{
		{name: "sticky", says: "the directory is sticky", saidTo: "nobody", warned: 5,
			root: "chown 0:0 T/d && chmod 1777 T/d && echo c > T/d/f && chown 0:0 T/d/f && " +
				"ln -sfn elsewhere T/d/l && chown -h 0:0 T/d/l && rm T/d/p && echo x > T/d/p && chown 0:0 T/d/p && " +
				"rmdir T/d/sub && ln -s /etc T/d/sub && chown -h 0:0 T/d/sub"},
		{name: "closed", owner: "rm -r T/d/sub",
			root: "chown 0:0 T/d && chmod 755 T/d && echo c > T/d/f && chown 0:0 T/d/f"},
		{name: "open", owner: "echo c > T/d/f && echo x > T/d/extra", root: "chown 0:0 T/d && chmod 777 T/d"},
		// Root's file and FIFO whose metadata alone changed: the
		// restore cannot set it, and says why (the FIFO's warning did
		// not).
		{name: "metadata", root: "chown 0:0 T/d/f T/d/p && touch -d 2001-01-01 T/d/f T/d/p",
			says: "another user's", saidTo: "nobody", warned: 2},
		{name: "target", owner: "echo x > T/extra", root: "chown 0:0 T && chmod 777 T"},
		// Root's file in root's sticky directory in one that --delete
		// removes: it stays, and so do the directories, and the warning
		// about them says why (it gave the bare error of the file).
		{name: "extra", owner: "mkdir -p T/gone/sub && echo y > T/gone/y",
			root: "chown 0:0 T/gone/sub && chmod 1777 T/gone/sub && echo z > T/gone/sub/z",
			says: "the directory is sticky", saidTo: "nobody", warned: 1},
		// An xattr the snapshot lacks on root's directory: its removal
		// failed too, warned about apart ("removing xattr"), a second
		// warning about the same directory.
		{name: "xattr", root: "chown 0:0 T/d", xattr: "d"},
		// Root's file of a directory of mode 555 whose metadata alone
		// changed, the directory root's too: the restore set the
		// directory's metadata again at the end, though it had not
		// changed, and warned about it under the target's path.
		{name: "modelater", root: "chown 0:0 T/r T/r/r && touch -d 2001-01-01 T/r/r", warned: 1,
			says: "another user's", saidTo: "nobody"},
		// A passage to what is restored: its times are put back where
		// they can be, without a word, as when the walk leaves it. The
		// restore warned "times: operation not permitted" after it
		// replaced a file in it, where its dry run did not.
		{name: "passage", owner: "echo c > T/d/f", root: "chown 0:0 T/d && chmod 777 T/d",
			args: []string{"--include", "/d/f"}, quiet: true},
	})
}

// TestRestoreDryRunLockedEntries: a rollback over immutable and
// append-only entries (chattr +i, +a), which not even root may replace,
// delete or set the metadata of, is predicted by its dry run, which
// counted them written or deleted and exited 0; the restore says why it
// skips them, as root and as their owner. An immutable directory whose
// times are right, in which a replacement was refused, is not warned
// about: the restore set its times again and warned that it could not.
// It needs a file system whose files take these flags.
func TestRestoreDryRunLockedEntries(t *testing.T) {
	bin, tmp := binaryForNobody(t)
	probe := filepath.Join(tmp, "probe")
	if err := os.WriteFile(probe, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chattr", "+i", probe).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("chattr", "-R", "-i", "-a", tmp).Run() }) // before TempDir removes it
	const says = "immutable or append-only (chattr +i, +a)"
	testRollbacks(t, bin, tmp, []rollbackCase{
		{name: "file", says: says, warned: 1, root: "echo c > T/d/f && chattr +i T/d/f"},
		{name: "append", owner: "echo x > T/d/extra && echo c > T/d/f", root: "chattr +a T/d", says: says, warned: 3},
		{name: "dir", owner: "echo c > T/d/f", root: "touch -d 2001-01-01 T/d/sub && chattr +i T/d T/d/sub",
			says: says, warned: 2},
		{name: "extra", owner: "mkdir -p T/gone/sub && echo z > T/gone/sub/z && echo y > T/gone/y",
			root: "chattr +i T/gone/sub/z", says: says, warned: 1},
	})
}

// TestRestoreDryRunReadOnlyMount: a rollback of a tree mounted read-only
// is predicted by its dry run, which counted the files written and the
// extra entries deleted and exited 0, where the restore skipped them all
// and warned ("read-only file system"). It needs bind mounts.
func TestRestoreDryRunReadOnlyMount(t *testing.T) {
	bin, tmp := binaryForNobody(t)
	probe := filepath.Join(tmp, "probe")
	if err := os.Mkdir(probe, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "--bind", probe, probe).CombinedOutput(); err != nil {
		t.Skipf("mount --bind: %v: %s", err, out)
	}
	_ = exec.Command("umount", probe).Run()
	t.Cleanup(func() { // before TempDir removes them
		for _, user := range []string{"root", "nobody"} {
			_ = exec.Command("umount", "-l", filepath.Join(tmp, user, "t-ro")).Run()
		}
	})
	testRollbacks(t, bin, tmp, []rollbackCase{
		{name: "ro", owner: "echo c > T/d/f && echo x > T/extra && mkdir T/gone && echo g > T/gone/g",
			root: "mount --bind T T && mount -o remount,ro,bind T", says: "read-only file system", warned: 4},
	})
}

// rollbackCase changes a restored tree T with scripts run as its owner
// and as root before restore --delete rolls it back.
type rollbackCase struct {
	name, owner, root string
	// says is in each warning of the restore as saidTo ("": any user)
	// about an entry of T/d or T/r, and warned is how many paths it warned
	// about then (0: not checked).
	says, saidTo string
	warned       int
	args         []string // of both restores
	quiet        bool     // the restore gives no warning as 65534 either
	xattr        string   // a path in T that root gives the xattr user.other
}

// testRollbacks runs each case as root and as user 65534, with bin in
// tmp (binaryForNobody): a dry run must count what the restore then does,
// exit as it does and give as many warnings; as root nothing fails but
// what root may not do either (says for any user); the restore warns at
// most once about each path.
func testRollbacks(t *testing.T, bin, tmp string, cases []rollbackCase) {
	t.Helper()
	for _, user := range []string{"root", "nobody"} {
		t.Run(user, func(t *testing.T) {
			run, sh := dryRunUser(t, bin, filepath.Join(tmp, user), user == "nobody")
			sh(asUser, "mkdir -p src/d/sub src/r && echo f > src/d/f && ln -s f src/d/l && mkfifo src/d/p && "+
				"echo r > src/r/r && chmod 555 src/r")
			initSnapshot(t, run)
			for _, c := range cases {
				target := "t-" + c.name
				if code, _ := run("restore", "latest", "--target", target); code != exitOK {
					t.Fatalf("%s: first restore failed", c.name)
				}
				sh(asUser, strings.ReplaceAll("true; "+c.owner, "T", target))
				sh(asRoot, strings.ReplaceAll(c.root, "T", target))
				if c.xattr != "" {
					setXattr(t, filepath.Join(tmp, user, target, c.xattr), "user.other")
				}
				restore := append([]string{"restore", "latest", "--target", target, "--delete", "--json"}, c.args...)
				dryCode, dry := run(append(restore, "--dry-run")...)
				code, real := run(restore...)
				if dryCode != code || countsOf(dry) != countsOf(real) || dry.WarningsTotal != real.WarningsTotal {
					t.Errorf("%s: dry run exit %d, %+v\nrestore exit %d, %+v", c.name, dryCode, dry, code, real)
				}
				says := c.says != "" && (c.saidTo == "" || c.saidTo == user)
				if !says && user == "root" && (code != exitOK || real.WarningsTotal != 0) {
					t.Errorf("%s: as root: exit %d, %+v", c.name, code, real)
				}
				if user == "nobody" && (real.WarningsTotal == 0) != c.quiet {
					t.Errorf("%s: as nobody (quiet %v): %+v", c.name, c.quiet, real)
				}
				wantOnceEach(t, c, real, says)
			}
		})
	}
}

// wantOnceEach checks that the restore sum of case c warned at most once
// about each path, and, with says, that each warning about an entry of
// d or r says c.says, and that it warned about c.warned paths.
func wantOnceEach(t *testing.T, c rollbackCase, sum restoreSummary, says bool) {
	t.Helper()
	seen := map[string]bool{}
	for _, w := range sum.Warnings {
		if seen[w.Path] {
			t.Errorf("%s: warned twice about %s: %+v", c.name, w.Path, sum.Warnings)
		}
		seen[w.Path] = true
		inside := strings.Contains(w.Path, "/d/") || strings.Contains(w.Path, "/r/") || strings.Contains(w.Path, "/gone")
		if says && inside && !strings.Contains(w.Error, c.says) {
			t.Errorf("%s: the warning about %s does not say %q: %s", c.name, w.Path, c.says, w.Error)
		}
	}
	if says && c.warned != 0 && len(seen) != c.warned {
		t.Errorf("%s: warned about %d paths, want %d: %+v", c.name, len(seen), c.warned, sum.Warnings)
	}
}

// setXattr gives the file p the xattr name (not followed), or skips the
// test where its file system takes none.
func setXattr(t *testing.T, p, name string) {
	t.Helper()
	err := unix.Lsetxattr(p, name, []byte("o"), 0)
	if errors.Is(err, unix.ENOTSUP) {
		t.Skipf("no xattrs here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestRestoreDryRunDevices: restoring a device file unprivileged fails
// (mknod: only root makes device files), which the dry run predicts,
// into a new target and in place: it counted the device made and exited
// 0. The device is not counted among the entries whose owners are lost.
func TestRestoreDryRunDevices(t *testing.T) {
	bin, tmp := binaryForNobody(t)
	run, sh := dryRunUser(t, bin, filepath.Join(tmp, "nobody"), true)
	sh(asUser, "mkdir -p src/d && echo f > src/d/f")
	sh(asRoot, "mknod src/d/null c 1 3")
	initSnapshot(t, run)
	for _, args := range [][]string{{}, {"--delete"}} {
		restore := append([]string{"restore", "latest", "--target", "t", "--json"}, args...)
		dryCode, dry := run(append(restore, "--dry-run")...)
		code, real := run(restore...)
		if dryCode != code || countsOf(dry) != countsOf(real) || dry.WarningsTotal != real.WarningsTotal {
			t.Errorf("%v: dry run exit %d, %+v\nrestore exit %d, %+v", args, dryCode, dry, code, real)
		}
		// Root's device is not made, so no owner is lost (it was counted
		// among the "owners not set").
		if len(real.Warnings) != 1 || !strings.Contains(real.Warnings[0].Error, "only root makes device files") {
			t.Errorf("%v: want one warning, that only root makes device files: %+v", args, real.Warnings)
		}
	}
}

// TestRestoreDryRunTargetUnmakeable: a dry run into a target that the
// user may not make (below root's directory) fails as the restore does,
// where it said what it would restore and exited 0; one it may make
// passes.
func TestRestoreDryRunTargetUnmakeable(t *testing.T) {
	bin, tmp := binaryForNobody(t)
	run, sh := dryRunUser(t, bin, filepath.Join(tmp, "nobody"), true)
	sh(asUser, "mkdir -p src && echo f > src/f")
	sh(asRoot, "mkdir rootonly")
	initSnapshot(t, run)
	for _, c := range []struct {
		target string
		want   int
	}{{"rootonly/new/t", exitFailure}, {"mine/new/t", exitOK}} {
		dry, _ := run("restore", "latest", "--target", c.target, "--dry-run")
		code, _ := run("restore", "latest", "--target", c.target)
		if dry != c.want || code != c.want {
			t.Errorf("%s: dry run exit %d, restore exit %d, want %d", c.target, dry, code, c.want)
		}
	}
}

// TestRollbackNestedClosedDirsUnprivileged: an unprivileged rollback of
// a file in a directory of mode 000 inside another of mode 000 gives
// both their modes back: the inner one kept the 0700 the apply gave it
// to write there, exit 0 (the outer one's mode, set first, barred the way
// to it).
func TestRollbackNestedClosedDirsUnprivileged(t *testing.T) {
	bin, tmp := binaryForNobody(t)
	src := filepath.Join(tmp, "src")
	writeFile(t, filepath.Join(src, "p", "q"), "f", []byte("orig\n"))
	must(t, os.Chmod(filepath.Join(src, "p", "q"), 0))
	must(t, os.Chmod(filepath.Join(src, "p"), 0))
	image := filepath.Join(tmp, "m.wim")
	if res := runBin(t, bin, []string{"HOME=" + tmp}, "capture", src, image); res.code != exitOK {
		t.Fatalf("capture: exit %d: %s", res.code, res.stderr)
	}
	must(t, os.Chmod(image, 0o644))
	target := filepath.Join(tmp, "t")
	asNobody := func(script string) { t.Helper(); shAsNobody(t, tmp, script) }
	asNobody(bin + " apply m.wim t")
	asNobody("chmod u+x t/p && chmod u+rwx t/p/q && echo changed > t/p/q/f && chmod 0 t/p/q t/p")
	asNobody(bin + " apply m.wim t")
	for _, d := range []string{"p", "p/q"} {
		var st unix.Stat_t
		must(t, unix.Lstat(filepath.Join(target, d), &st))
		if st.Mode&0o7777 != 0 {
			t.Errorf("%s: mode %o after the rollback, want 0", d, st.Mode&0o7777)
		}
	}
	if got, err := os.ReadFile(filepath.Join(target, "p", "q", "f")); err != nil || string(got) != "orig\n" {
		t.Errorf("p/q/f = %q (%v), want the image's", got, err)
	}
}

// TestRollbackWriteOnlyDirTimes: an unprivileged rollback of a file in a
// directory of mode 0300 (write and search, no read) gives the directory
// its times back: set before the file's rename, they were left at the
// rename's, exit 0, as the directory no longer opened to set them again.
func TestRollbackWriteOnlyDirTimes(t *testing.T) {
	bin, tmp := binaryForNobody(t)
	src := filepath.Join(tmp, "src")
	writeFile(t, filepath.Join(src, "d"), "f", []byte("orig\n"))
	must(t, os.Chmod(filepath.Join(src, "d"), 0o300))
	when := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	must(t, os.Chtimes(filepath.Join(src, "d"), when, when))
	image := filepath.Join(tmp, "m.wim")
	if res := runBin(t, bin, []string{"HOME=" + tmp}, "capture", src, image); res.code != exitOK {
		t.Fatalf("capture: exit %d: %s", res.code, res.stderr)
	}
	must(t, os.Chmod(image, 0o644))
	asNobody := func(script string) { t.Helper(); shAsNobody(t, tmp, script) }
	asNobody(bin + " apply m.wim t")
	asNobody("echo changed > t/d/f")
	asNobody(bin + " apply m.wim t")
	var st unix.Stat_t
	must(t, unix.Lstat(filepath.Join(tmp, "t", "d"), &st))
	if st.Mode&0o7777 != 0o300 || st.Mtim.Sec != when.Unix() {
		t.Errorf("d after the rollback: mode %o, mtime %v; want 300 and %v", st.Mode&0o7777, time.Unix(st.Mtim.Unix()).UTC(), when)
	}
}

// shAsNobody runs the shell script in dir as nobody, with HOME=dir, and
// fails the test if it fails.
func shAsNobody(t *testing.T, dir, script string) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
}
