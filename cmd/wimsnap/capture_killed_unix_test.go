//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestCaptureKilledInSource kills a capture whose WIM lies inside its
// source once its temporary file holds data, and captures again at once,
// as an admin does after the machine came back: the new image leaves out
// the half-written WIM that the killed run left (its temporary file, too
// young for sweepTemps), as it leaves out its own; so does an append.
func TestCaptureKilledInSource(t *testing.T) {
	bin := buildBinary(t)
	src := filepath.Join(t.TempDir(), "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	writeFile(t, src, "big.bin", randomBytes(1, 96<<20))
	target := filepath.Join(src, "out.wim")

	cmd := exec.Command(bin, "capture", src, target)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	left := waitTempData(t, target, 1<<20)
	_ = cmd.Process.Kill() // fails only when it has been waited for
	_ = cmd.Wait()
	if _, err := os.Stat(target); err == nil {
		t.Fatal("the capture finished before it was killed")
	}

	mustRun(t, bin, exitOK, "capture", src, target)
	mustRun(t, bin, exitOK, "append", src, target, "--name=again")
	for _, image := range []string{"1", "2"} {
		if out := mustRun(t, bin, exitOK, "dir", target, image).stdout; strings.Contains(out, tempInfix) {
			t.Errorf("image %s holds the killed run's %s:\n%s", image, filepath.Base(left), out)
		}
	}
}

// waitTempData waits until a temporary file of target holds at least n
// bytes, for at most a minute, and returns its path.
func waitTempData(t *testing.T, target string, n int64) string {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for _, p := range tempsOf(target) {
			if st, err := os.Stat(p); err == nil && st.Size() >= n {
				return p
			}
		}
	}
	t.Fatalf("no temporary file of %s reached %d bytes within a minute", target, n)
	return ""
}
