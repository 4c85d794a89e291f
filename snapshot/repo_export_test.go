//go:build unix

package snapshot

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestExportNames: an image name used twice gets the snapshot's short id
// appended, so each image is selectable by name; unnamed images (imported
// from a WIM whose images have no NAME) stay unnamed, as wimlib-imagex
// export leaves them, rather than becoming " (id)".
func TestExportNames(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	writeFiles(t, src, map[string]string{"a.txt": "a"})
	r := testRepo(t, wim.CompressXPRESS)
	m := snapshotOK(t, r, src, TakeOptions{Image: ImageFields{Name: "golden"}}).Manifest
	unnamed := *m
	unnamed.Image.Name = ""
	x := filepath.Join(tmp, "x.wim")
	if _, err := r.Export(t.Context(), []*Manifest{m, m, &unnamed, &unnamed}, x, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range wimtest.Open(t, x).Images() {
		got = append(got, in.Name)
	}
	if want := []string{"golden", "golden (" + m.ShortID() + ")", "", ""}; !slices.Equal(got, want) {
		t.Errorf("exported image names %q, want %q", got, want)
	}
}
