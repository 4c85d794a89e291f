//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestLabelsNotUTF8: snapshot and import refuse a --tag or --host that is
// not valid UTF-8 (exit 2) rather than store it with U+FFFD, which forget
// --tag or --host given the same bytes never matched.
func TestLabelsNotUTF8(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache"), "HOME": dir}
	runAppOK(t, env, "init")
	src := filepath.Join(dir, "src")
	writeFile(t, src, "f", []byte("f"))
	runAppOK(t, env, "capture", src, filepath.Join(dir, "c.wim"))
	for _, args := range [][]string{
		{"snapshot", src, "--tag=t\xff"},
		{"snapshot", src, "--host=h\xe9"},
		{"import", filepath.Join(dir, "c.wim"), "--tag=t\xff"},
	} {
		code, _, stderr := runApp(t, env, args...)
		if code != exitUsage || !strings.Contains(stderr, "not valid UTF-8") {
			t.Errorf("%q: exit %d, stderr %q; want exit %d", args, code, stderr, exitUsage)
		}
	}
	if out := runAppOK(t, env, "snapshots"); !strings.HasPrefix(out, "ID") || strings.Count(out, "\n") != 2 {
		t.Errorf("snapshots after refused runs:\n%s", out)
	}
}
