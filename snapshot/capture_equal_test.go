//go:build unix

package snapshot

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestCaptureEqualsItsUpdate: capturing an unchanged tree against its
// previous image as read back from a WIM gives an image Equal to it, which
// is what lets an unchanged snapshot keep its parent's image (sameImage);
// a change of mode alone, which reads no file, makes them differ.
func TestCaptureEqualsItsUpdate(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	path := filepath.Join(tmp, "a.wim")
	captureWIM(t, src, path, CaptureOptions{})
	_, old := openWIM(t, path)

	again := func() *wim.Metadata {
		t.Helper()
		m, _, err := Capture(context.Background(), src, newMemStore(), CaptureOptions{Update: old})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := again(); !m.Equal(old) {
		t.Fatal("an unchanged tree's capture differs from its previous image")
	}
	if err := os.Chmod(filepath.Join(src, "emptydir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if m := again(); m.Equal(old) {
		t.Fatal("a capture after a chmod equals the previous image")
	}
}
