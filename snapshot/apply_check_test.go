//go:build unix

package snapshot

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSharedCheckNumbering: files stay numbered as the helper numbers them
// when the walk skips a subtree the helper checks. The image holds two
// directories named dup, the second a copy of the first (so every file the
// helper checks there is found unchanged); the walk skips it as a
// duplicate. If the walk did not count its files, the files of z after it
// would take the helper's findings for them and be kept although changed.
func TestSharedCheckNumbering(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	mtime := time.Unix(1700000000, 0)
	write := func(rel, data string) {
		p := filepath.Join(src, rel)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(data), 0o644))
		must(t, os.Chtimes(p, mtime, mtime))
	}
	for _, d := range []string{"a", "dup", "dup2", "z"} {
		for _, f := range []string{"1", "2", "3", "4"} {
			name := f
			if d == "z" || d == "a" {
				name = d + f
			}
			data := "same bytes" // every file alike in size and time
			if d == "z" {
				data = "z-bytes-" + f + "!"
			}
			write(d+"/"+name, data)
		}
	}
	store := newMemStore()
	m, _, err := Capture(t.Context(), src, store, CaptureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	find(m.Root, "dup2").Name = "dup"
	out := filepath.Join(t.TempDir(), "out")
	if _, err := Apply(t.Context(), m, store, out, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"1", "2", "3", "4"} {
		p := filepath.Join(out, "z", "z"+f)
		must(t, os.WriteFile(p, []byte("changed!!!"), 0o644)) // same size
		must(t, os.Chtimes(p, mtime, mtime.Add(time.Second)))
	}
	st, err := Apply(t.Context(), m, store, out, ApplyOptions{InPlace: true, checkFirst: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"1", "2", "3", "4"} {
		got, err := os.ReadFile(filepath.Join(out, "z", "z"+f))
		if want := []byte("z-bytes-" + f + "!"); err != nil || !bytes.Equal(got, want) {
			t.Errorf("z/z%s: %q, %v; want %q", f, got, err, want)
		}
	}
	if st.Skipped != 1 || st.Unchanged < 8 {
		t.Errorf("rollback %+v: want the duplicate skipped and a/ and dup/ kept", st)
	}
}

// TestEmptyDir: a new directory is empty, one with a file is not, and
// asking leaves the descriptor's own listing whole.
func TestEmptyDir(t *testing.T) {
	dir := t.TempDir()
	fd, err := openDir(unix.AT_FDCWD, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFD(fd)
	if !emptyDir(fd) {
		t.Error("a new directory is not empty")
	}
	must(t, os.WriteFile(filepath.Join(dir, "f"), nil, 0o600))
	if emptyDir(fd) {
		t.Error("a directory with a file is empty")
	}
	if names, err := readDirNames(fd, make([]byte, 4096)); err != nil || len(names) != 1 {
		t.Errorf("listing after emptyDir: %q, %v", names, err)
	}
}
