package snapshot

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestSpoolPutLinks: on Linux a spool file put into a local store on the
// same file system becomes the object without a copy, and the spool
// directory stays empty before and after.
func TestSpoolPutLinks(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	store, err := remote.NewLocal(filepath.Join(dir, "repo"))
	must(t, err)
	f, err := newSpool(spool)
	must(t, err)
	defer func() { _ = f.Close() }()
	data := wimtest.RandomBytes(2, 200000)
	_, err = f.Write(data)
	must(t, err)
	if left, _ := os.ReadDir(spool); len(left) != 0 {
		t.Errorf("the spool directory lists %d files, want none", len(left))
	}
	must(t, f.put(context.Background(), store, "packs/12/34"))
	ofi, err := os.Stat(filepath.Join(dir, "repo", "packs", "12", "34"))
	must(t, err)
	sfi, err := f.f.Stat()
	must(t, err)
	if !os.SameFile(ofi, sfi) {
		t.Error("the pack object is a copy of the spool file, want the file itself")
	}
	if ofi.Size() != int64(len(data)) {
		t.Errorf("object of %d bytes, want %d", ofi.Size(), len(data))
	}
}
