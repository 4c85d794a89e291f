//go:build unix

package snapshot

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
)

// deniedStore refuses to read one key, as a local store does a file whose
// permissions the process lacks.
type deniedStore struct {
	remote.Store
	key string
}

func (s deniedStore) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if key == s.key {
		return nil, &fs.PathError{Op: "open", Path: key, Err: fs.ErrPermission}
	}
	return s.Store.Get(ctx, key, off, length)
}

// TestCheckReadDataDeniedPack: check --read-data names a pack it may not
// read as unreadable, with the snapshots that need it, and reads the
// others, rather than stopping at it.
func TestCheckReadDataDeniedPack(t *testing.T) {
	r := testRepo(t, 0)
	src := t.TempDir()
	for i, name := range []string{"a", "b", "c"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(strings.Repeat(name, 40000+i)), 0o644); err != nil {
			t.Fatal(err)
		}
		snapshotOK(t, r, src, TakeOptions{})
	}
	packs, err := listIDs(t.Context(), r.store, packPrefix)
	if err != nil || len(packs) < 3 {
		t.Fatalf("%d packs, %v", len(packs), err)
	}
	var denied index.ID
	for denied = range packs {
		break
	}
	rd, err := OpenRepo(t.Context(), deniedStore{r.store, packKey(denied)},
		RepoOptions{CacheDir: filepath.Dir(r.IndexPath())})
	if err != nil {
		t.Fatal(err)
	}
	res, err := rd.Check(t.Context(), CheckOptions{ReadData: true})
	if !errors.Is(err, ErrCheckFailed) {
		t.Fatalf("check: %v, want ErrCheckFailed", err)
	}
	if res.PacksRead != len(packs) {
		t.Errorf("%d packs read, want %d", res.PacksRead, len(packs))
	}
	named := false
	for _, p := range res.Problems {
		named = named || strings.HasPrefix(p, "pack "+hexID(denied)+": ") && strings.Contains(p, "permission denied")
	}
	if !named || len(res.Damaged) == 0 {
		t.Errorf("pack %s not named unreadable, or no snapshot damaged: %q, damaged %q", hexID(denied)[:8], res.Problems, res.Damaged)
	}
}
