//go:build unix

package main

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestExportImageKilled kills export-image at several points, into an
// existing DEST and into a new one: the existing DEST is always a valid
// WIM, the old one (1 image) or the new one (2), and a new DEST is
// absent or complete. SIGINT puts the existing DEST back as it was (exit
// 130); a later run completes.
func TestExportImageKilled(t *testing.T) {
	bin := buildBinary(t)
	tmp := t.TempDir()
	src, dest, fresh := filepath.Join(tmp, "src.wim"), filepath.Join(tmp, "dest.wim"), filepath.Join(tmp, "new.wim")
	tree, small := filepath.Join(tmp, "tree"), filepath.Join(tmp, "small")
	writeFile(t, small, "small.txt", []byte("small"))
	// Something to keep the export busy: 512 MiB stored uncompressed, and
	// hashed for the integrity table, take a second or two.
	must(t, os.MkdirAll(tree, 0o755))
	wimtest.SparseFile(t, filepath.Join(tree, "big"), 512<<20)
	mustRun(t, bin, 0, "capture", tree, src, "--name=big", "--compress=none")
	mustRun(t, bin, 0, "capture", small, dest, "--name=small", "--compress=none", "--check")
	for _, delay := range []time.Duration{20 * time.Millisecond, 300 * time.Millisecond, 800 * time.Millisecond} {
		for _, to := range []string{dest, fresh} {
			cmd := exec.Command(bin, "export-image", src, "big", to, "--check")
			must(t, cmd.Start())
			time.Sleep(delay)
			if err := cmd.Process.Kill(); err != nil {
				t.Fatalf("kill after %v: %v (the export must still be running)", delay, err)
			}
			_ = cmd.Wait() // killed: the exit status is the signal
		}
		mustRun(t, bin, 0, "verify", dest)
		if n := wimtest.Open(t, dest).ImageCount(); n == 2 {
			t.Logf("after a kill at %v the export into DEST was complete", delay)
			return
		} else if n != 1 {
			t.Fatalf("after a kill at %v: %d images, want the old 1", delay, n)
		}
		if _, err := os.Stat(fresh); !errors.Is(err, fs.ErrNotExist) {
			mustRun(t, bin, 0, "verify", fresh)
			must(t, os.Remove(fresh))
		}
	}
	before, err := os.ReadFile(dest)
	must(t, err)
	if code, stderr := runInterrupted(t, bin, tmp, "export-image", src, "big", dest, "--check"); code != exitInterrupted {
		t.Errorf("SIGINT: exit %d, want %d; stderr %q", code, exitInterrupted, stderr)
	}
	if after, err := os.ReadFile(dest); err != nil || string(after) != string(before) {
		t.Errorf("SIGINT: DEST changed (%v)", err)
	}
	mustRun(t, bin, 0, "export-image", src, "big", dest, "--check")
	mustRun(t, bin, 0, "verify", dest)
	if r := wimtest.Open(t, dest); r.ImageCount() != 2 || r.Image(2).Name != "big" {
		t.Errorf("after the export: %d images; want small and big", r.ImageCount())
	}
}
