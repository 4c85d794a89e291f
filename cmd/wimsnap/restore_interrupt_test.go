//go:build unix

package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestRestoreInterruptedSays: an interrupted restore, apply or extract
// says that its target is not complete and that running it again
// finishes it; a dry run, which writes nothing, only that it was
// interrupted.
func TestRestoreInterruptedSays(t *testing.T) {
	env := testRepoEnv(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	runAppOK(t, env, "snapshot", src)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, dry := range []bool{false, true} {
		a, _, errb := testApp(env)
		code := a.run(ctx, []string{"restore", "latest", "--target", t.TempDir(), "--dry-run=" + strconv.FormatBool(dry)})
		if says := strings.Contains(errb.String(), "run the restore again"); code != exitInterrupted || says == dry {
			t.Errorf("dry run %v: exit %d: %s", dry, code, errb)
		}
	}
	w := filepath.Join(t.TempDir(), "x.wim")
	runAppOK(t, env, "capture", src, w)
	a, _, errb := testApp(env)
	code := a.run(ctx, []string{"apply", w, t.TempDir()})
	if !strings.Contains(errb.String(), "run the apply again to finish it") || code != exitInterrupted {
		t.Errorf("apply: exit %d: %s", code, errb)
	}
}
