//go:build unix

package snapshot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestTransferDamage: a byte flipped on its way from the store (once) is
// read again, so restore and check --read-data succeed; damage that stays
// is reported.
func TestTransferDamage(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	writeTestFile(t, filepath.Join(src, "big.bin"), wimtest.RandomBytes(7, 3<<20))
	r, faulty := faultyRepo(t, filepath.Join(tmp, "cache"))
	res := snapshotOK(t, r, src, TakeOptions{})
	// The metadata is cached locally: the next Gets are file contents.
	faulty.FlipByte(1)
	out := filepath.Join(tmp, "out")
	if _, err := r.Restore(t.Context(), res.Manifest, out, RestoreOptions{}); err != nil {
		t.Fatalf("restore with one damaged download: %v", err)
	}
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})

	faulty.FlipByte(1)
	cr, err := r.Check(t.Context(), CheckOptions{ReadData: true})
	if err != nil || len(cr.Problems) != 0 {
		t.Fatalf("check --read-data with one damaged download: %v %q", err, cr.Problems)
	}

	faulty.FlipByte(1 << 20) // every download
	if _, err := r.Restore(t.Context(), res.Manifest, filepath.Join(tmp, "out2"), RestoreOptions{}); err == nil {
		t.Error("restore succeeded although every download was damaged")
	}
}

// TestTransferDamageShared: a byte flipped on its way from the store in a
// stream that several files hold is read again for the file that met it,
// and the kept copies of its chunks (sharedChunks), which came with the
// damage, go too. The files after the first were written from the kept
// copies, failed their SHA-1 again, and the restore reported the
// repository damaged though check --read-data found it whole.
func TestTransferDamageShared(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	data := wimtest.RandomBytes(8, 200<<10)
	for _, d := range []string{"a", "b", "c", "d"} {
		must(t, os.MkdirAll(filepath.Join(src, d), 0o755))
		writeTestFile(t, filepath.Join(src, d, "copyright"), data)
	}
	r, faulty := faultyRepo(t, filepath.Join(tmp, "cache"))
	res := snapshotOK(t, r, src, TakeOptions{})
	faulty.FlipByte(1) // the next Get is the pack, which the stream begins
	out := filepath.Join(tmp, "out")
	if _, err := r.Restore(t.Context(), res.Manifest, out, RestoreOptions{}); err != nil {
		t.Fatalf("restore with one damaged download: %v", err)
	}
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
}

// TestTransferDamageExport: an export from a store whose packs are
// fetched, one of whose downloads came with a byte flipped, runs again,
// fetching afresh, and writes the WIM; it failed "run check --read-data"
// of a sound repository. Damage that stays fails it.
func TestTransferDamageExport(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	must(t, os.MkdirAll(src, 0o755))
	writeTestFile(t, filepath.Join(src, "big.bin"), wimtest.RandomBytes(9, 3<<20))
	r, faulty := faultyRepo(t, filepath.Join(tmp, "cache"))
	var warned []error
	r.warn = func(err error) { warned = append(warned, err) }
	m := snapshotOK(t, r, src, TakeOptions{}).Manifest
	faulty.FlipByte(1)
	w := filepath.Join(tmp, "x.wim")
	if _, err := r.Export(t.Context(), []*Manifest{m}, w, ExportOptions{}); err != nil {
		t.Fatalf("export with one damaged download: %v", err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0].Error(), "exporting again") {
		t.Errorf("warnings %v, want one that the export ran again", warned)
	}
	out := filepath.Join(tmp, "out")
	rd, md := openWIM(t, w)
	applyOK(t, md, rd, out, ApplyOptions{})
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})

	faulty.FlipByte(1 << 20) // every download
	if _, err := r.Export(t.Context(), []*Manifest{m}, filepath.Join(tmp, "y.wim"), ExportOptions{}); err == nil {
		t.Error("export succeeded although every download was damaged")
	}
}
