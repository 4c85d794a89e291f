//go:build unix

package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestRollbackDeleteCancelled: a rollback with Delete whose context is
// cancelled while it deletes a directory stops there, leaving what is
// left of it: a Ctrl-C did not stop the deletion, which went on to the
// last file (100,000 of them, seconds after the signal).
func TestRollbackDeleteCancelled(t *testing.T) {
	tmp := t.TempDir()
	src, w, out := filepath.Join(tmp, "src"), filepath.Join(tmp, "x.wim"), filepath.Join(tmp, "out")
	writeFiles(t, src, map[string]string{"a/f": "f"})
	captureWIM(t, src, w, CaptureOptions{})
	r, m := openWIM(t, w)
	applyOK(t, m, r, out, ApplyOptions{})
	const junk = 200
	for i := range junk {
		must(t, os.MkdirAll(filepath.Join(out, "junk"), 0o755))
		must(t, os.WriteFile(filepath.Join(out, "junk", fmt.Sprintf("f%03d", i)), nil, 0o644))
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, err := Apply(ctx, m, r, out, ApplyOptions{InPlace: true, Delete: true, Warn: func(p string, err error) {
		t.Errorf("warning: %s: %v", p, err)
	}, Deletable: func(p string) bool {
		if p == "/junk/f100" { // as it lists the directory to delete it
			cancel()
		}
		return true
	}})
	left, _ := os.ReadDir(filepath.Join(out, "junk"))
	if !errors.Is(err, context.Canceled) || len(left) != junk {
		t.Errorf("cancelled rollback: %v, %d of %d files left; want context.Canceled, all left", err, len(left), junk)
	}
}
