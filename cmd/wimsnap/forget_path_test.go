//go:build unix

package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
)

// TestForgetPathSpellings: --path names a source however it is spelled
// (a trailing slash, "." and ".." segments, relative to the working
// directory), as the snapshot command records it cleaned and absolute.
func TestForgetPathSpellings(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	src, other := filepath.Join(dir, "src"), filepath.Join(dir, "other")
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache"), "HOME": dir}
	runAppOK(t, env, "init")
	writeFile(t, src, "a", []byte("a"))
	writeFile(t, other, "b", []byte("b"))
	for _, s := range []string{src, src, other} {
		runAppOK(t, env, "snapshot", s, "--host=h")
	}
	for _, p := range []string{src, src + "/", dir + "/./other/../src", "src", "./src/"} {
		out := runAppOK(t, env, "forget", "--keep-last=1", "--dry-run", "--json", "--path="+p)
		var res forgetSummary
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Groups) != 1 || len(res.Groups[0].Keep) != 1 || len(res.Groups[0].Remove) != 1 ||
			res.Groups[0].Keep[0].Source != src {
			t.Errorf("--path=%s: groups %+v, want src's two snapshots", p, res.Groups)
		}
	}
}

// TestSourceSpellings: a --path value is kept as given (another host's
// spelling) and added cleaned and absolute when that differs.
func TestSourceSpellings(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	tests := []struct {
		in   string
		want []string
	}{
		{"/srv", []string{"/srv"}},
		{"/srv/", []string{"/srv/", "/srv"}},
		{"/srv/./a/..", []string{"/srv/./a/..", "/srv"}},
		{"rel", []string{"rel", filepath.Join(dir, "rel")}},
	}
	for _, tt := range tests {
		if got := sourceSpellings([]string{tt.in}); !slices.Equal(got, tt.want) {
			t.Errorf("sourceSpellings(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestForgetImportAndTreeNamedAlike: a directory named as an import's
// source (x.wim#1) forms a group of its own in forget, apart from the
// image imported from x.wim, and --path names it with a final slash.
func TestForgetImportAndTreeNamedAlike(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache"), "HOME": dir}
	runAppOK(t, env, "init")
	src, w := filepath.Join(dir, "src"), filepath.Join(dir, "x.wim")
	writeFile(t, src, "a", []byte("a"))
	runAppOK(t, env, "snapshot", src, "--host=h")
	runAppOK(t, env, "export", "latest", w)
	runAppOK(t, env, "import", w, "--host=h")
	writeFile(t, w+"#1", "b", []byte("b"))
	runAppOK(t, env, "snapshot", w+"#1", "--host=h")
	groups := func(args ...string) []forgetGroup {
		t.Helper()
		var res forgetSummary
		out := runAppOK(t, env, append([]string{"forget", "--keep-last=1", "--dry-run", "--json"}, args...)...)
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		return res.Groups
	}
	if g := groups(); len(g) != 3 {
		t.Errorf("%d groups, want 3 (src, the import, the directory): %+v", len(g), g)
	}
	for _, p := range []string{w + "#1", w + "#1/"} {
		g := groups("--path=" + p)
		if len(g) != 1 || len(g[0].Keep) != 1 || len(g[0].Remove) != 0 {
			t.Errorf("--path=%s: groups %+v, want one of one snapshot", p, g)
		}
	}
}

// TestAgentForgetPathOfTree: the agent's forget after a snapshot of a
// directory named like an import's source names the tree, not the image.
func TestAgentForgetPathOfTree(t *testing.T) {
	c := &agentConfig{host: "h"}
	task := &taskConfig{kind: kindSnapshot, forget: []string{"--keep-last=1"}}
	for source, want := range map[string]string{"/srv/x.wim#1": "--path=/srv/x.wim#1/", "/srv": "--path=/srv"} {
		lines := c.commands(task, source)
		if len(lines) != 2 || !slices.Contains(lines[1], want) {
			t.Errorf("commands for %s: %q, want forget with %s", source, lines, want)
		}
	}
}
