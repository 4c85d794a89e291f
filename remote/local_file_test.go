package remote_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/wimsnap/wimsnap/remote"
)

// putFile stores f's first size bytes under key with PutFile, checks
// that the object reads back as want and that no temporary file is left,
// and reports whether the object is f's own file.
func putFile(t *testing.T, s *remote.Local, key string, f *os.File, size int64, want []byte) bool {
	t.Helper()
	ctx := context.Background()
	if err := s.PutFile(ctx, key, f, size); err != nil {
		t.Fatalf("PutFile: %v", err)
	}
	got, err := remote.ReadAll(ctx, s, key, 1<<20)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("object reads back %d bytes (%v), want the %d put", len(got), err, len(want))
	}
	if left := tempFiles(t, s.Location()); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	ofi, err := os.Stat(filepath.Join(s.Location(), filepath.FromSlash(key)))
	if err != nil {
		t.Fatal(err)
	}
	ffi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(ofi, ffi)
}

// writeFile writes data to a new file in dir and returns it open.
func writeFile(t *testing.T, dir string, data []byte) *os.File {
	t.Helper()
	f, err := os.CreateTemp(dir, "f-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestPutFileSize: a file longer than the size asked for gives an object
// of that size, copied; a file shorter fails and stores nothing.
func TestPutFileSize(t *testing.T) {
	dir := t.TempDir()
	s := newLocal(t, filepath.Join(dir, "store"))
	data := bytes.Repeat([]byte("0123456789"), 1000)
	f := writeFile(t, dir, data)
	if putFile(t, s, "packs/aa/long", f, 4000, data[:4000]) {
		t.Error("the object is the longer file itself, want a copy of its first bytes")
	}
	err := s.PutFile(context.Background(), "packs/aa/short", f, int64(len(data)+1))
	if err == nil {
		t.Error("PutFile of more bytes than the file holds succeeded")
	}
	if _, err := s.Stat(context.Background(), "packs/aa/short"); err == nil {
		t.Error("a failed PutFile left an object")
	}
}

// TestPutFileBadKey: PutFile checks its key as Put does.
func TestPutFileBadKey(t *testing.T) {
	dir := t.TempDir()
	s := newLocal(t, filepath.Join(dir, "store"))
	f := writeFile(t, dir, []byte("x"))
	if err := s.PutFile(context.Background(), "../x", f, 1); err == nil {
		t.Error("PutFile accepted the key ../x")
	}
}
