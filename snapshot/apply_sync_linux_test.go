package snapshot

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRollbackSyncsMounts: a rollback flushes the file systems mounted
// below its target too (a rollback of / writes into /boot): it flushed
// only the target's.
func TestRollbackSyncsMounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	r, m, _ := unfilledTree(t)
	target := filepath.Join(t.TempDir(), "target ") // a space, escaped in mountinfo
	applyOK(t, m, r, target, ApplyOptions{InPlace: true})
	sub := filepath.Join(target, "sub")
	saved := filepath.Join(t.TempDir(), "sub")
	must(t, os.Rename(sub, saved))
	must(t, os.Mkdir(sub, 0o755))
	if err := unix.Mount("wimsnap-sync", sub, "tmpfs", 0, "size=16m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(sub, unix.MNT_DETACH) })
	defer func(s func()) { syncAll = s }(syncAll)
	var all int
	syncAll = func() { all++ }
	st := applyOK(t, m, r, target, ApplyOptions{InPlace: true}) // fills sub, on the tmpfs
	if st.Files == st.Unchanged || all != 1 {
		t.Errorf("rollback writing into a mount below the target: %+v, %d flushes of all; want 1", st, all)
	}
	if mountsBelow(mustOpenDir(t, saved)) {
		t.Error("a directory with no mount below it has one")
	}
}

func mustOpenDir(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(fd) })
	return fd
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{"/a": "/a", `/a b`: "/a b", `/t	\x
`: "/t\t\\x\n", `/x\04`: `/x\04`} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}
