//go:build unix

package snapshot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// damagingSource gives the streams in bad a checksum error after their
// first bytes, as a WIM with a flipped byte in a chunk does.
type damagingSource struct {
	StreamSource
	bad map[wim.Hash]bool
}

func (d *damagingSource) OpenStream(h wim.Hash) (io.ReadCloser, error) {
	rc, err := d.StreamSource.OpenStream(h)
	if err != nil || !d.bad[h] {
		return rc, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(io.LimitReader(rc, 1000), errReader{fmt.Errorf("%w: stream %x", wim.ErrChecksum, h)}), rc}, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestApplyDamagedStreamRemovesFile: a new file whose data in the source
// is damaged is not left behind empty, nor counted among the files
// applied: it is removed, with every name of a hard-linked one, each name
// warned about and counted skipped, and its bytes not counted; every
// other file applies.
func TestApplyDamagedStreamRemovesFile(t *testing.T) {
	r, m, srcDir := unfilledTree(t)
	bad := map[wim.Hash]bool{}
	var files int64
	_ = m.Walk(func(p string, e *wim.Entry) error {
		if p == "/sub/f05.bin" || p == "/sub/f11.bin" {
			bad[e.Data.Hash] = true
		}
		if !e.IsDir() {
			files++
		}
		return nil
	})
	gone := []string{"sub/f05.bin", "sub/f11-b.bin", "sub/f11-c.bin", "sub/f11.bin"}
	// The tree the apply is to give: the source without them, its
	// directory's times as captured.
	sub := filepath.Join(srcDir, "sub")
	fi, err := os.Stat(sub)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range gone {
		must(t, os.Remove(filepath.Join(srcDir, p)))
	}
	must(t, os.Chtimes(sub, fi.ModTime(), fi.ModTime()))
	// The 60 files of data but f05 and f11 are written, the 2 empty ones
	// created; f11's further names are links.
	want := ApplyStats{Dirs: 2, Files: files - int64(len(gone)), Bytes: 58 * 64 << 10, Skipped: int64(len(gone))}
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			target := filepath.Join(t.TempDir(), "target")
			var mu sync.Mutex
			var warned []string
			st, err := Apply(t.Context(), m, &damagingSource{StreamSource: r, bad: bad}, target, ApplyOptions{
				Workers: workers,
				Warn: func(p string, err error) {
					if !errors.Is(err, ErrStreamRead) || !errors.Is(err, wim.ErrChecksum) {
						t.Errorf("warning %s: %v, want a damaged stream", p, err)
					}
					mu.Lock()
					warned = append(warned, strings.TrimPrefix(p, target+"/"))
					mu.Unlock()
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(warned)
			if !slices.Equal(warned, gone) {
				t.Errorf("warned about %q, want %q", warned, gone)
			}
			if st != want {
				t.Errorf("stats %+v, want %+v", st, want)
			}
			for _, p := range gone {
				if _, err := os.Lstat(filepath.Join(target, p)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s: left behind (%v)", p, err)
				}
			}
			wimtest.CompareTrees(t, srcDir, target, wimtest.CompareOptions{})
		})
	}
}
