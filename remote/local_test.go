package remote_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/remote/remotetest"
)

func TestLocal(t *testing.T) {
	remotetest.Run(t, func(t *testing.T) remote.Store {
		t.Helper()
		return newLocal(t, t.TempDir())
	})
}

func newLocal(t *testing.T, dir string) *remote.Local {
	t.Helper()
	s, err := remote.NewLocal(dir)
	if err != nil {
		t.Fatalf("NewLocal(%s): %v", dir, err)
	}
	return s
}

// tempFiles returns the temporary files of Puts below dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if strings.HasPrefix(d.Name(), ".tmp-") {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		t.Fatalf("walking %s: %v", dir, err)
	}
	return names
}

func TestNewLocal(t *testing.T) {
	t.Chdir(t.TempDir())
	s := newLocal(t, "a/repo")
	if !filepath.IsAbs(s.Location()) || filepath.Base(s.Location()) != "repo" {
		t.Errorf("Location() = %q, want an absolute path ending in repo", s.Location())
	}
	if fi, err := os.Stat("a/repo"); err != nil || !fi.IsDir() {
		t.Errorf("NewLocal did not make the directory: %v", err)
	}
	if err := os.WriteFile("file", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.NewLocal("file"); err == nil {
		t.Error("NewLocal on a file succeeded")
	}
}

func TestLocalInProgressNotListed(t *testing.T) {
	dir := t.TempDir()
	s := newLocal(t, dir)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- s.Put(t.Context(), "packs/aa/p", pr, 10) }()
	if _, err := pw.Write([]byte("12345")); err != nil { // returns once Put has read it
		t.Fatal(err)
	}
	if got := tempFiles(t, dir); len(got) != 1 {
		t.Errorf("temporary files during Put: %v, want one", got)
	}
	if got := remotetest.Keys(t, s, ""); len(got) != 0 {
		t.Errorf("List during Put: got %v, want nothing", got)
	}
	remotetest.Absent(t, s, "packs/aa/p")
	if _, err := pw.Write([]byte("67890")); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Put: %v", err)
	}
	if got := remotetest.Keys(t, s, ""); !maps.Equal(got, map[string]int64{"packs/aa/p": 10}) {
		t.Errorf("List after Put: got %v", got)
	}
	if got := tempFiles(t, dir); len(got) != 0 {
		t.Errorf("temporary files after Put: %v", got)
	}
}

func TestLocalLeftovers(t *testing.T) {
	dir := t.TempDir()
	s := newLocal(t, dir)
	remotetest.Put(t, s, "packs/aa/p", []byte("pack"))
	for _, name := range []string{"packs/aa/.tmp-crash", ".tmp-root", ".git/config", "packs/notes about packs"} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := remotetest.Keys(t, s, ""); !maps.Equal(got, map[string]int64{"packs/aa/p": 4}) {
		t.Errorf("List with leftovers: got %v, want only packs/aa/p", got)
	}
	_, err := s.Stat(t.Context(), "packs/aa/.tmp-crash")
	remotetest.WantErr(t, "Stat of a temporary file", err, remote.ErrInvalidKey)
}

func TestLocalFailedPutLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	s := newLocal(t, dir)
	remotetest.Put(t, s, "locks/l", []byte("old"))
	if err := s.Put(t.Context(), "locks/l", bytes.NewReader([]byte("new")), 10); err == nil {
		t.Fatal("short Put succeeded")
	}
	remotetest.WantErr(t, "PutIfAbsent", s.PutIfAbsent(t.Context(), "locks/l", []byte("x")), remote.ErrExists)
	if got := remotetest.Get(t, s, "locks/l", 0, -1); string(got) != "old" {
		t.Errorf("after failed Puts: got %q, want %q", got, "old")
	}
	if got := tempFiles(t, dir); len(got) != 0 {
		t.Errorf("temporary files after failed Puts: %v", got)
	}
}

func TestLocalNotADirectory(t *testing.T) {
	dir := t.TempDir()
	s := newLocal(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "packs"), []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for name, err := range map[string]error{
		"Put":         s.Put(ctx, "packs/aa/p", bytes.NewReader([]byte("x")), 1),
		"PutIfAbsent": s.PutIfAbsent(ctx, "packs/aa/q", []byte("x")),
		"Put below":   s.Put(ctx, "packs/p", bytes.NewReader([]byte("x")), 1),
	} {
		switch {
		case err == nil:
			t.Errorf("%s below a file succeeded", name)
		case errors.Is(err, remote.ErrNotFound), errors.Is(err, remote.ErrInvalidKey):
			t.Errorf("%s below a file: %v, want an error that is neither ErrNotFound nor ErrInvalidKey", name, err)
		case !strings.Contains(err.Error(), "packs/"):
			t.Errorf("%s below a file: %v does not name the key", name, err)
		}
	}
	// No object has the key, so reads say so.
	_, err := s.Get(ctx, "packs/aa/p", 0, -1)
	remotetest.WantErr(t, "Get below a file", err, remote.ErrNotFound)
}

func TestLocalPermission(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores permissions; TestLocalNotADirectory covers a failing Put")
	}
	dir := t.TempDir()
	s := newLocal(t, dir)
	remotetest.Put(t, s, "index/i", []byte("x"))
	p := filepath.Join(dir, "index", "i")
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get(t.Context(), "index/i", 0, -1)
	if err == nil || errors.Is(err, remote.ErrNotFound) {
		t.Errorf("Get of an unreadable file: %v, want an error that is not ErrNotFound", err)
	}
	if err := os.Chmod(filepath.Join(dir, "index"), 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(dir, "index"), 0o755) })
	err = s.Put(t.Context(), "index/j", bytes.NewReader([]byte("x")), 1)
	if err == nil || errors.Is(err, remote.ErrNotFound) {
		t.Errorf("Put into a read-only directory: %v, want an error that is not ErrNotFound", err)
	}
}

func TestLocalDirectoryIsNoObject(t *testing.T) {
	dir := t.TempDir()
	s := newLocal(t, dir)
	if err := os.MkdirAll(filepath.Join(dir, "index", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	_, err := s.Stat(ctx, "index")
	remotetest.WantErr(t, "Stat of a directory", err, remote.ErrNotFound)
	_, err = s.Get(ctx, "index/sub", 0, -1)
	remotetest.WantErr(t, "Get of a directory", err, remote.ErrNotFound)
	remotetest.WantErr(t, "Delete of a directory", s.Delete(ctx, "index/sub"), remote.ErrNotFound)
	if _, err := os.Stat(filepath.Join(dir, "index", "sub")); err != nil {
		t.Errorf("Delete of a directory removed it: %v", err)
	}
	err = s.Put(ctx, "index/sub", bytes.NewReader([]byte("x")), 1)
	if err == nil || errors.Is(err, remote.ErrNotFound) {
		t.Errorf("Put over a directory: %v, want an error that is not ErrNotFound", err)
	}
}

func TestLocalSymlinkedDirectory(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	if err := os.Symlink(other, filepath.Join(dir, "packs")); err != nil {
		t.Fatal(err)
	}
	s := newLocal(t, dir)
	remotetest.Put(t, s, "packs/aa/p", []byte("pack"))
	if _, err := os.Stat(filepath.Join(other, "aa", "p")); err != nil {
		t.Errorf("Put did not write through the link: %v", err)
	}
	if got := remotetest.Keys(t, s, "packs/"); !maps.Equal(got, map[string]int64{"packs/aa/p": 4}) {
		t.Errorf("List through a link: got %v", got)
	}
	if got := remotetest.Keys(t, s, ""); !maps.Equal(got, map[string]int64{"packs/aa/p": 4}) {
		t.Errorf("List of all through a link: got %v", got)
	}
}

// TestLocalOpen: Open gives an object read at any offset, and tells a
// missing object and a directory from one.
func TestLocalOpen(t *testing.T) {
	s := newLocal(t, t.TempDir())
	ctx := t.Context()
	data := []byte("0123456789")
	if err := s.Put(ctx, "packs/ab/obj", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	o, err := s.Open(ctx, "packs/ab/obj")
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 4)
	if _, err := o.ReadAt(p, 3); err != nil || string(p) != "3456" || o.Size() != 10 {
		t.Fatalf("ReadAt = %q, %v; size %d", p, err, o.Size())
	}
	if _, err := o.ReadAt(p, 8); !errors.Is(err, io.EOF) {
		t.Errorf("ReadAt past the end = %v, want io.EOF", err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"packs/ab/none", "packs/ab"} { // a directory is no object
		if _, err := s.Open(ctx, key); !errors.Is(err, remote.ErrNotFound) {
			t.Errorf("Open(%s) = %v, want ErrNotFound", key, err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Open(cancelled, "packs/ab/obj"); !errors.Is(err, context.Canceled) {
		t.Errorf("Open after cancel = %v", err)
	}
}

// TestLocalSweepTemps: SweepTemps removes the temporary files of killed
// Puts that are old enough, at the root and in keys' directories (through
// a symlinked one too), and nothing else: not in folders that share the
// store's directory.
func TestLocalSweepTemps(t *testing.T) {
	dir := t.TempDir()
	other := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(other, filepath.Join(dir, "snapshots")))
	s := newLocal(t, dir)
	remotetest.Put(t, s, "packs/aa/p", []byte("pack"))
	old, fresh := time.Now().Add(-2*remote.StaleTempAge), time.Now()
	files := map[string]time.Time{
		"packs/aa/.tmp-killed": old, "index/.tmp-killed": old, ".tmp-root": old, "snapshots/.tmp-killed": old,
		"packs/aa/.tmp-running": fresh, ".git/.tmp-not-ours": old, "packs/aa/b/.tmp-too-deep": old,
		"photos/.tmp-not-ours": old, "photos/2024/.tmp-not-ours": old,
	}
	for name, mtime := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, []byte("junk"), 0o644))
		must(os.Chtimes(p, mtime, mtime))
	}
	if n := s.SweepTemps(time.Now().Add(-remote.StaleTempAge)); n != 4 {
		t.Errorf("SweepTemps removed %d files, want 4", n)
	}
	for name, mtime := range files {
		_, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(name)))
		gone := mtime.Equal(old) && !strings.Contains(name, "not-ours") && !strings.Contains(name, "too-deep")
		if gone != os.IsNotExist(err) {
			t.Errorf("%s: gone %v, want %v (%v)", name, os.IsNotExist(err), gone, err)
		}
	}
	if got := remotetest.Get(t, s, "packs/aa/p", 0, -1); string(got) != "pack" {
		t.Errorf("the pack after SweepTemps: %q", got)
	}
}
