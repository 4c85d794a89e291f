package remote_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/remote/remotetest"
)

// TestLocalNotObjects: a key whose file is a FIFO, a socket, or a link to
// a device is a damaged object: List reports it, Get and Stat fail at
// once with ErrDamaged (not ErrNotFound, which says "forgotten"), not
// blocking on the FIFO, and Delete removes the file, not a link's target.
// A link to a file is followed (an object on another disk).
func TestLocalNotObjects(t *testing.T) {
	dir := t.TempDir()
	elsewhere := filepath.Join(t.TempDir(), "pack")
	must(t, os.WriteFile(elsewhere, []byte("a pack"), 0o600))
	s := newLocal(t, dir)
	remotetest.Put(t, s, "snapshots/good", []byte("manifest"))
	plant := map[string]func(p string) error{
		"snapshots/devlink": func(p string) error { return os.Symlink("/dev/zero", p) },
		"snapshots/fifo":    func(p string) error { return syscall.Mkfifo(p, 0o600) },
		"snapshots/socket": func(p string) error {
			l, err := net.Listen("unix", p)
			if err == nil {
				l.(*net.UnixListener).SetUnlinkOnClose(false)
				err = l.Close()
			}
			return err
		},
	}
	for key, mk := range plant {
		must(t, mk(filepath.Join(dir, filepath.FromSlash(key))))
	}
	must(t, os.Symlink(elsewhere, filepath.Join(dir, "snapshots", "link")))
	must(t, os.Mkdir(filepath.Join(dir, "snapshots", "dir"), 0o700))

	keys := remotetest.Keys(t, s, "snapshots/")
	if len(keys) != 5 || keys["snapshots/link"] != int64(len("a pack")) {
		t.Errorf("List = %v, want the good, the linked (its target's size) and the damaged", keys)
	}
	ctx := t.Context()
	if b, err := remote.ReadAll(ctx, s, "snapshots/link", 1<<20); err != nil || string(b) != "a pack" {
		t.Errorf("ReadAll of a link to a file: %q, %v", b, err)
	}
	for key := range plant {
		done := make(chan error, 1)
		go func() {
			_, err := remote.ReadAll(ctx, s, key, 1<<20)
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, remote.ErrDamaged) || errors.Is(err, remote.ErrNotFound) {
				t.Errorf("ReadAll(%s) = %v, want ErrDamaged", key, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("ReadAll(%s) blocks", key)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, remote.ErrDamaged) {
			t.Errorf("Stat(%s) = %v, want ErrDamaged", key, err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Errorf("Delete(%s) = %v", key, err)
		}
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(key))); !os.IsNotExist(err) {
			t.Errorf("%s still there after Delete: %v", key, err)
		}
	}
	must(t, s.Delete(ctx, "snapshots/link"))
	if b, err := os.ReadFile(elsewhere); err != nil || string(b) != "a pack" {
		t.Errorf("the link's target after Delete: %q, %v", b, err)
	}
	if _, err := s.Stat(ctx, "snapshots/dir"); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("Stat of a directory = %v, want ErrNotFound", err)
	}
}
