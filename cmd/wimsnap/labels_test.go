//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestLabelsNotUTF8: snapshot and import refuse a --tag or --host that is
// not valid UTF-8 (exit 2) rather than store it with U+FFFD, which forget
// --tag or --host given the same bytes never matched; and an empty tag or
// one with a comma.
func TestLabelsNotUTF8(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache"), "HOME": dir}
	runAppOK(t, env, "init")
	src := filepath.Join(dir, "src")
	writeFile(t, src, "f", []byte("f"))
	runAppOK(t, env, "capture", src, filepath.Join(dir, "c.wim"))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"snapshot", src, "--tag=t\xff"}, "not valid UTF-8"},
		{[]string{"snapshot", src, "--host=h\xe9"}, "not valid UTF-8"},
		{[]string{"import", filepath.Join(dir, "c.wim"), "--tag=t\xff"}, "not valid UTF-8"},
		// Shown as "daily,keep" and "" in the snapshots table, they read
		// as two tags and none.
		{[]string{"snapshot", src, "--tag=daily,keep"}, "holds a comma"},
		{[]string{"snapshot", src, "--tag="}, "--tag is empty"},
	} {
		code, _, stderr := runApp(t, env, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, exitUsage, c.want)
		}
	}
	if out := runAppOK(t, env, "snapshots"); !strings.HasPrefix(out, "ID") || strings.Count(out, "\n") != 2 {
		t.Errorf("snapshots after refused runs:\n%s", out)
	}
}
