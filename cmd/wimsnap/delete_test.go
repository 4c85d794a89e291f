//go:build unix

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// twoImageWIM captures two small trees into tmp/x.wim as images "one"
// and "two" and returns the WIM's path.
func twoImageWIM(t *testing.T, tmp string) string {
	t.Helper()
	w := filepath.Join(tmp, "x.wim")
	for _, name := range []string{"one", "two"} {
		src := filepath.Join(tmp, name)
		writeFile(t, src, name+".txt", []byte(name))
		cmd := "append"
		if name == "one" {
			cmd = "capture"
		}
		runAppOK(t, nil, cmd, src, w, "--name="+name)
	}
	return w
}

// TestDeleteRenameRefused: delete and info --name refuse, with the exit
// code and message each case has, and leave the WIM as it was: an image
// the WIM lacks, one named twice, a name another image has, a rename
// without IMAGE (exit 2); a WIM another process is writing, one its
// header marks read-only, a part of a split WIM (exit 1).
func TestDeleteRenameRefused(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, w string) string // returns the file to give, when not w
		args  []string                            // after the command and the file
		cmd   string
		code  int
		want  string
	}{
		{"unknown index", nil, []string{"3"}, "delete", exitUsage, "image 3: wim: no such image (the WIM holds 2)"},
		{"unknown name", nil, []string{"one", "three"}, "delete", exitUsage, `image "three": wim: no such image`},
		{"twice", nil, []string{"1", "one"}, "delete", exitUsage, "IMAGE one: image 1 is named twice"},
		{"empty", nil, []string{""}, "delete", exitUsage, "IMAGE is empty"},
		{"name taken", nil, []string{"2", "--name=one"}, "info", exitUsage, `image name "one" is already used by image 1`},
		{"unknown image to rename", nil, []string{"3", "--name=x"}, "info", exitUsage, "image 3: wim: no such image"},
		{"rename without IMAGE", nil, []string{"--description=x"}, "info", exitUsage, "--boot need IMAGE"},
		{"locked", lockedWIM, []string{"1"}, "delete", exitFailure,
			"x.wim: another process is writing this WIM"},
		{"locked rename", lockedWIM, []string{"1", "--name=x"}, "info",
			exitFailure, "x.wim: another process is writing this WIM"},
		{"read-only header", markReadOnly, []string{"1"}, "delete", exitFailure, "x.wim: wim: unsupported feature: the WIM is marked read-only"},
		{"read-only header rename", markReadOnly, []string{"1", "--name=x"}, "info", exitFailure, "the WIM is marked read-only"},
		{"read-only header optimize", markReadOnly, nil, "optimize", exitFailure, "the WIM is marked read-only"},
		{"split", splitParts, []string{"1"}, "delete", exitFailure, "part 1 of a 2-part split WIM: delete rewrites a WIM file in place"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := twoImageWIM(t, t.TempDir())
			if c.setup != nil {
				w = c.setup(t, w)
			}
			before, err := os.ReadFile(w)
			must(t, err)
			code, _, errb := runApp(t, nil, append([]string{c.cmd, w}, c.args...)...)
			if code != c.code || !strings.Contains(errb, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errb, c.code, c.want)
			}
			if after, err := os.ReadFile(w); err != nil || !bytes.Equal(after, before) {
				t.Errorf("the WIM changed (%v)", err)
			}
		})
	}
}

// lockedWIM takes the flock of w, as another process writing it holds it,
// for the rest of the test, and returns w.
func lockedWIM(t *testing.T, w string) string {
	t.Helper()
	holdFlock(t, w)
	return w
}

// markReadOnly sets the read-only flag (WIM_HDR_FLAG_READONLY, 0x4) of the
// header of the WIM w, whose flags are the 32 bits at offset 16.
func markReadOnly(t *testing.T, w string) string {
	t.Helper()
	b, err := os.ReadFile(w)
	must(t, err)
	b[16] |= 0x04
	must(t, os.WriteFile(w, b, 0o644))
	return w
}

// splitParts splits w into parts of 1 MiB or less, the first of which it
// returns, after it has grown the second image so that there are two.
func splitParts(t *testing.T, w string) string {
	t.Helper()
	src := filepath.Join(filepath.Dir(w), "big")
	writeFile(t, src, "big.bin", wimtest.RandomBytes(7, 3<<20))
	runAppOK(t, nil, "append", src, w, "--name=big")
	swm := filepath.Join(filepath.Dir(w), "x.swm")
	runAppOK(t, nil, "split", w, swm, "1")
	return swm
}

// TestDeleteReadOnlyFileUnprivileged: a WIM file its user may not write
// (mode 0444) is refused by delete, info --name and optimize, as wimlib-imagex
// refuses it, though the directory would let the new file be renamed over
// it: the file's own protection holds.
func TestDeleteReadOnlyFileUnprivileged(t *testing.T) {
	bin, tmp := binaryForNobody(t)
	run, sh := nobodyIn(t, bin, tmp)
	sh("mkdir src && echo one > src/f")
	run(0, "capture", "src", "r.wim", "--name=one")
	run(0, "append", "src", "r.wim", "--name=two")
	sh("chmod 444 r.wim")
	for _, args := range [][]string{{"delete", "r.wim", "1"}, {"info", "r.wim", "1", "--name=x"}, {"optimize", "r.wim"}} {
		if out := run(exitFailure, args...); !strings.Contains(out, "permission denied") {
			t.Errorf("%s: %s; want permission denied", args[0], out)
		}
	}
	if n := wimtest.Open(t, filepath.Join(tmp, "r.wim")).ImageCount(); n != 2 {
		t.Errorf("%d images left, want 2", n)
	}
}

// TestDeleteKilled kills deletes with SIGKILL at several moments: each
// time the WIM still verifies and holds its two images. A delete stopped
// by SIGINT exits 130 and leaves the WIM and no temporary file. The one
// let run leaves the other image alone.
func TestDeleteKilled(t *testing.T) {
	bin := buildBinary(t)
	tmp := t.TempDir()
	w := filepath.Join(tmp, "k.wim")
	src := filepath.Join(tmp, "src")
	writeFile(t, src, "small.txt", []byte("small"))
	// Something to keep the delete busy, which copies the streams as they
	// are stored: 512 MiB stored uncompressed, and hashed again for the
	// integrity table, take a second or two.
	wimtest.SparseFile(t, filepath.Join(src, "big"), 512<<20)
	mustRun(t, bin, 0, "capture", src, w, "--name=a", "--compress=none", "--check")
	mustRun(t, bin, 0, "append", src, w, "--name=b")
	for _, delay := range []time.Duration{20 * time.Millisecond, 300 * time.Millisecond, 800 * time.Millisecond} {
		cmd := exec.Command(bin, "delete", w, "a")
		must(t, cmd.Start())
		time.Sleep(delay)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatalf("kill after %v: %v (the delete must still be running)", delay, err)
		}
		_ = cmd.Wait() // killed: the exit status is the signal
		mustRun(t, bin, 0, "verify", w)
		if n := wimtest.Open(t, w).ImageCount(); n != 2 {
			t.Fatalf("after a kill at %v: %d images, want the old 2", delay, n)
		}
	}
	before, err := os.Stat(w)
	must(t, err)
	killed := tempsOf(w) // the killed runs' temporary files, which the next run may sweep
	if code, stderr := runInterrupted(t, bin, tmp, "delete", w, "a"); code != exitInterrupted {
		t.Errorf("SIGINT: exit %d, want %d; stderr %q", code, exitInterrupted, stderr)
	}
	if after, err := os.Stat(w); err != nil || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("SIGINT: the WIM changed (%v)", err)
	}
	for _, tmp := range tempsOf(w) {
		if !slices.Contains(killed, tmp) {
			t.Errorf("SIGINT left its temporary file %s", tmp)
		}
	}
	mustRun(t, bin, 0, "delete", w, "a")
	mustRun(t, bin, 0, "verify", w)
	if r := wimtest.Open(t, w); r.ImageCount() != 1 || r.Image(1).Name != "b" {
		t.Errorf("after the delete: %d images, the first %q; want b alone", r.ImageCount(), r.Image(1).Name)
	}
}

// TestDeleteJSONNoneDeleted: delete "all" of a WIM that holds no image
// gives "deleted" as an empty list, not null.
func TestDeleteJSONNoneDeleted(t *testing.T) {
	w := twoImageWIM(t, t.TempDir())
	runAppOK(t, nil, "delete", w, "all")
	out := runAppOK(t, nil, "--json", "delete", w, "all")
	if !strings.Contains(out, `"deleted": []`) {
		t.Errorf("--json of a delete of nothing: %s", out)
	}
}
