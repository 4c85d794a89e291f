package remote_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// openTmp returns a linkable file without a name in dir holding data.
func openTmp(t *testing.T, dir string, data []byte) *os.File {
	t.Helper()
	f, err := os.OpenFile(dir, os.O_RDWR|unix.O_TMPFILE, 0o644)
	if err != nil {
		t.Skipf("O_TMPFILE in %s: %v", dir, err)
	}
	t.Cleanup(func() { _ = f.Close() })
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestPutFileLinks: a file without a name on the store's file system
// becomes the object itself, with its bytes, under its key; a file with
// a name is linked too. Neither is copied.
func TestPutFileLinks(t *testing.T) {
	dir := t.TempDir()
	s := newLocal(t, filepath.Join(dir, "store"))
	data := bytes.Repeat([]byte("pack"), 5000)
	if !putFile(t, s, "packs/ab/cd", openTmp(t, dir, data), int64(len(data)), data) {
		t.Error("the object is a copy, want the anonymous file linked")
	}
	if !putFile(t, s, "index/ef", writeFile(t, dir, data[:7]), 7, data[:7]) {
		t.Error("the object is a copy, want the named file linked")
	}
	// Putting a key again replaces the object, as Put does.
	if !putFile(t, s, "packs/ab/cd", openTmp(t, dir, data[:9]), 9, data[:9]) {
		t.Error("the replacing object is a copy")
	}
}

// TestPutFileCopies: a file that cannot be linked (removed after it was
// made, or on another file system) is copied.
func TestPutFileCopies(t *testing.T) {
	dir := t.TempDir()
	s := newLocal(t, filepath.Join(dir, "store"))
	data := bytes.Repeat([]byte("chunk"), 3000)
	f := writeFile(t, dir, data)
	if err := os.Remove(f.Name()); err != nil {
		t.Fatal(err)
	}
	if putFile(t, s, "packs/00/removed", f, int64(len(data)), data) {
		t.Error("a removed file was linked")
	}
	var st, shm unix.Stat_t
	if unix.Stat(dir, &st) != nil || unix.Stat("/dev/shm", &shm) != nil || st.Dev == shm.Dev {
		t.Skip("no /dev/shm on a file system other than the test's")
	}
	g := openTmp(t, "/dev/shm", data)
	if putFile(t, s, "packs/00/other", g, int64(len(data)), data) {
		t.Error("a file on another file system was linked")
	}
}

// TestPutFileInherits: in a set-group-ID directory of another group, and
// in a directory with a default ACL, the object is a copy, made there, so
// that it has the directory's group or ACL as Put's objects do.
func TestPutFileInherits(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a directory another group needs root")
	}
	dir := t.TempDir()
	s := newLocal(t, filepath.Join(dir, "store"))
	data := bytes.Repeat([]byte("g"), 1000)
	shared := filepath.Join(dir, "store", "packs", "sg")
	if err := os.MkdirAll(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	const gid = 65534
	if err := os.Chown(shared, 0, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o755|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	if putFile(t, s, "packs/sg/x", openTmp(t, dir, data), int64(len(data)), data) {
		t.Error("linked into a set-group-ID directory of another group")
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(shared, "x"), &st); err != nil || st.Gid != gid {
		t.Errorf("object's group %d (%v), want the directory's %d", st.Gid, err, gid)
	}

	acl := filepath.Join(dir, "store", "packs", "acl")
	if err := os.MkdirAll(acl, 0o755); err != nil {
		t.Fatal(err)
	}
	// A default ACL of the three base entries: user rwx, group r-x, other r-x.
	blob := []byte{2, 0, 0, 0, 1, 0, 7, 0, 0xff, 0xff, 0xff, 0xff, 4, 0, 5, 0, 0xff, 0xff, 0xff, 0xff, 0x20, 0, 5, 0, 0xff, 0xff, 0xff, 0xff}
	if err := unix.Setxattr(acl, "system.posix_acl_default", blob, 0); err != nil {
		t.Skipf("no default ACL on this file system: %v", err)
	}
	if putFile(t, s, "packs/acl/x", openTmp(t, dir, data), int64(len(data)), data) {
		t.Error("linked into a directory with a default ACL")
	}
}

// TestLocalModes: what a Local makes is private to its owner (a
// repository holds copies of files only their owners could read; they
// were 0o755 and 0o644), unless the directory, or the nearest one above
// a new one, is shared with a group (set-group-ID): its members then get its access,
// whatever the umask (022 took the group's write access, and with it the
// locks). Others never get access, by Put or by PutFile's link of a spool
// file made 0o644.
func TestLocalModes(t *testing.T) {
	old := unix.Umask(0o022)
	t.Cleanup(func() { unix.Umask(old) })
	data := []byte("object")
	for _, tc := range []struct {
		name       string
		parent     os.FileMode // 0: as t.TempDir makes it
		root       os.FileMode // 0: NewLocal makes the root
		dir, files os.FileMode // wanted, with the set-group-ID bit for dirs
	}{
		{"new", 0, 0, 0o700, 0o600},
		{"existing 755", 0, 0o755, 0o700, 0o600},
		{"shared 2770", 0, 0o770 | os.ModeSetgid, 0o770 | os.ModeSetgid, 0o640},
		{"new below shared 2770", 0o770 | os.ModeSetgid, 0, 0o770 | os.ModeSetgid, 0o640},
		// Group-writable without set-group-ID (/tmp) shares nothing: what
		// is made there is its maker's primary group's, not the
		// directory's.
		{"new below 1777", 0o777 | os.ModeSticky, 0, 0o700, 0o600},
		{"existing 0770", 0, 0o770, 0o700, 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := filepath.Join(t.TempDir(), "srv")
			must(t, os.Mkdir(parent, 0o755))
			if tc.parent != 0 {
				must(t, os.Chmod(parent, tc.parent))
			}
			root := filepath.Join(parent, "pc1", "repo")
			if tc.root != 0 {
				must(t, os.MkdirAll(root, 0o700))
				must(t, os.Chmod(root, tc.root))
			}
			s := newLocal(t, root)
			must(t, s.Put(t.Context(), "packs/ab/put", bytes.NewReader(data), int64(len(data))))
			putFile(t, s, "packs/ab/linked", openTmp(t, root, data), int64(len(data)), data)
			dirs := []string{"packs", "packs/ab"}
			if tc.root == 0 {
				dirs = append(dirs, "..", ".")
			}
			for _, d := range dirs {
				wantMode(t, filepath.Join(root, d), tc.dir)
			}
			for _, f := range []string{"packs/ab/put", "packs/ab/linked"} {
				wantMode(t, filepath.Join(root, f), tc.files)
			}
		})
	}
}

// wantMode checks that path's permission and set-group-ID bits are want.
func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	must(t, err)
	if got := fi.Mode() & (os.ModePerm | os.ModeSetgid); got != want {
		t.Errorf("%s: mode %v, want %v", path, got, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
