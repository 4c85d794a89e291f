package remote_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/remote/remotetest"
)

// TestLocalNotObjects: a key whose file is a symbolic link (to a file
// outside, to a device), a FIFO or a dangling link is a damaged object:
// List reports it, Get and Stat fail at once and not with ErrNotFound
// (which says "forgotten"), reading nothing through the link and not
// blocking on the FIFO, and Delete removes the link, not its target.
func TestLocalNotObjects(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret")
	must(t, os.WriteFile(secret, []byte("root:hash"), 0o600))
	s := newLocal(t, dir)
	remotetest.Put(t, s, "snapshots/good", []byte("manifest"))
	plant := map[string]func(p string) error{
		"snapshots/link":     func(p string) error { return os.Symlink(secret, p) },
		"snapshots/devlink":  func(p string) error { return os.Symlink("/dev/zero", p) },
		"snapshots/dangling": func(p string) error { return os.Symlink("none", p) },
		"snapshots/fifo":     func(p string) error { return syscall.Mkfifo(p, 0o600) },
	}
	for key, mk := range plant {
		must(t, mk(filepath.Join(dir, filepath.FromSlash(key))))
	}
	must(t, os.Mkdir(filepath.Join(dir, "snapshots", "dir"), 0o700))

	keys := remotetest.Keys(t, s, "snapshots/")
	for key := range plant {
		if _, ok := keys[key]; !ok {
			t.Errorf("List lacks %s: %v", key, keys)
		}
	}
	if _, ok := keys["snapshots/good"]; !ok || len(keys) != len(plant)+1 {
		t.Errorf("List = %v", keys)
	}
	ctx := t.Context()
	for key := range plant {
		done := make(chan error, 1)
		go func() {
			_, err := remote.ReadAll(ctx, s, key, 1<<20)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || errors.Is(err, remote.ErrNotFound) || strings.Contains(err.Error(), "root:") {
				t.Errorf("ReadAll(%s) = %v, want a damaged object that is not ErrNotFound", key, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("ReadAll(%s) blocks", key)
		}
		if _, err := s.Stat(ctx, key); err == nil || errors.Is(err, remote.ErrNotFound) {
			t.Errorf("Stat(%s) = %v, want an error that is not ErrNotFound", key, err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Errorf("Delete(%s) = %v", key, err)
		}
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(key))); !os.IsNotExist(err) {
			t.Errorf("%s still there after Delete: %v", key, err)
		}
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "root:hash" {
		t.Errorf("the link's target: %q, %v", b, err)
	}
	if _, err := s.Stat(ctx, "snapshots/dir"); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("Stat of a directory = %v, want ErrNotFound", err)
	}
}
