package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestChmodNoFollow: the chmod of a FIFO, directory or device that a
// symbolic link replaced since it was made changes nothing outside: it
// followed the link (a rollback as root made a file of root's
// world-writable for the user who swapped their FIFO for a link to it).
// Both ways are tried: fchmodat2's and, as on kernels before 6.6, the
// descriptor's.
func TestChmodNoFollow(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	must(t, os.WriteFile(secret, []byte("root's\n"), 0o600))
	must(t, unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	must(t, os.Symlink(secret, filepath.Join(dir, "swapped")))
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, err)
	defer closeFD(dfd)
	for name, chmod := range map[string]func(int, string, uint32) error{"chmodNoFollow": chmodNoFollow, "chmodNode": chmodNode} {
		if err := chmod(dfd, "swapped", 0o666); err == nil {
			t.Errorf("%s of a symlink: no error", name)
		}
		if fi, err := os.Stat(secret); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s of a symlink changed its target: %v (%v)", name, fi.Mode(), err)
		}
		if err := chmod(dfd, "fifo", 0o640); err != nil {
			t.Errorf("%s of a FIFO: %v", name, err)
		}
		fi, err := os.Lstat(filepath.Join(dir, "fifo"))
		if err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: FIFO mode %v (%v), want 0640", name, fi.Mode(), err)
		}
		must(t, os.Chmod(filepath.Join(dir, "fifo"), 0o600))
	}
}

// TestRollbackFIFOSwappedForLink: a rollback over FIFOs that another
// process keeps replacing by symbolic links to a file outside the target
// never changes that file's mode (before the fix, about one rollback in
// two made it 0666, as the FIFOs' mode).
func TestRollbackFIFOSwappedForLink(t *testing.T) {
	if testing.Short() {
		t.Skip("races for a second")
	}
	tmp := t.TempDir()
	src, target := filepath.Join(tmp, "src"), filepath.Join(tmp, "target")
	secret := filepath.Join(tmp, "secret")
	must(t, os.WriteFile(secret, []byte("outside\n"), 0o600))
	var fifos []string
	for i := range 100 {
		d := filepath.Join(src, fmt.Sprintf("d%02d", i))
		must(t, os.MkdirAll(d, 0o755))
		must(t, unix.Mkfifo(filepath.Join(d, "fifo"), 0o666))
		must(t, os.Chmod(filepath.Join(d, "fifo"), 0o666))
		fifos = append(fifos, filepath.Join(target, fmt.Sprintf("d%02d", i), "fifo"))
	}
	wimPath := filepath.Join(tmp, "img.wim")
	captureWIM(t, src, wimPath, CaptureOptions{})
	r, m := openWIM(t, wimPath)
	opts := ApplyOptions{InPlace: true, Delete: true, Warn: func(string, error) {}}
	if _, err := Apply(t.Context(), m, r, target, opts); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // the attacker
		defer close(done)
		for {
			for _, f := range fifos {
				select {
				case <-stop:
					return
				default:
				}
				_ = os.Symlink(secret, f+".sw")
				_ = os.Rename(f+".sw", f)
			}
		}
	}()
	for range 10 {
		_, _ = Apply(t.Context(), m, r, target, opts) // errors are the race's
	}
	close(stop)
	<-done
	if fi, err := os.Stat(secret); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the file outside the target: %v (%v), want its 0600", fi.Mode(), err)
	}
}
