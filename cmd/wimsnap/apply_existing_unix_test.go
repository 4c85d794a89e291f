//go:build unix

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestApplyOverTreeFullDisk: apply over an earlier tree that runs out of
// space leaves every old file whole, where it removed files before writing
// their new data, and the same apply completes once there is room.
func TestApplyOverTreeFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	src, wimfile, target := filepath.Join(dir, "src"), filepath.Join(dir, "a.wim"), filepath.Join(dir, "target")
	const n = 8
	for i := range n {
		writeFile(t, src, fmt.Sprintf("r%d", i), randomBytes(uint64(10+i), 300<<10))
	}
	if code, _, errb := runApp(t, nil, "capture", src, wimfile, "--compress=none"); code != exitOK {
		t.Fatalf("capture: exit %d: %s", code, errb)
	}
	must(t, os.Mkdir(target, 0o755))
	if err := unix.Mount("wimsnap-apply", target, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(target, unix.MNT_DETACH) })
	old := []byte("the earlier tree's file\n")
	for i := range n {
		writeFile(t, target, fmt.Sprintf("r%d", i), old)
	}
	code, _, errb := runApp(t, nil, "apply", wimfile, target)
	if code != exitFailure || !strings.Contains(errb, "no space left") {
		t.Fatalf("apply onto a full disk: exit %d: %s", code, errb)
	}
	for i := range n {
		name := fmt.Sprintf("r%d", i)
		got, err := os.ReadFile(filepath.Join(target, name))
		want, _ := os.ReadFile(filepath.Join(src, name))
		if err != nil || !bytes.Equal(got, old) && !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, %v: neither the old file nor the image's", name, len(got), err)
		}
	}
	must(t, unix.Mount("wimsnap-apply", target, "tmpfs", unix.MS_REMOUNT, "size=16m"))
	if code, _, errb := runApp(t, nil, "apply", wimfile, target); code != exitOK {
		t.Fatalf("apply again: exit %d: %s", code, errb)
	}
	for i := range n {
		name := fmt.Sprintf("r%d", i)
		got, _ := os.ReadFile(filepath.Join(target, name))
		want, _ := os.ReadFile(filepath.Join(src, name))
		if !bytes.Equal(got, want) {
			t.Errorf("%s after the second apply: not the image's contents", name)
		}
	}
}
