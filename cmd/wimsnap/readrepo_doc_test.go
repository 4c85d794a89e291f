//go:build unix

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocReadRepo runs docs/tools/read_repo.py, a reader of the repository
// format written from docs/repository.md alone, on a repository of two
// snapshots (the second with a delta recipe, kind 1) and compares the
// files it reads back with the originals. It skips where python3 or the
// zstd command is missing: neither is among the build's requirements.
func TestDocReadRepo(t *testing.T) {
	for _, tool := range []string{"python3", "zstd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	reader, err := filepath.Abs("../../docs/tools/read_repo.py")
	must(t, err)
	dir := t.TempDir()
	src, repo := filepath.Join(dir, "src"), filepath.Join(dir, "repo")
	env := map[string]string{"WIMSNAP_CACHE_DIR": filepath.Join(dir, "cache")}
	files := map[string][]byte{"a.txt": []byte("hello\n"), "empty": nil, "sub/s.txt": []byte("small\n"),
		"big.bin": randomBytes(1, 100<<10), "huge.bin": randomBytes(2, 256<<10)}
	for name, data := range files {
		writeFile(t, src, name, data)
	}
	must(t, os.Link(filepath.Join(src, "a.txt"), filepath.Join(src, "sub/hard.txt")))
	must(t, os.Symlink("a.txt", filepath.Join(src, "link")))
	files["sub/hard.txt"] = files["a.txt"]
	runAppOK(t, env, "init", "--compress=none", "--repo", repo)
	runAppOK(t, env, "snapshot", "--repo", repo, src)
	first := map[string][]byte{}
	for name, data := range files {
		first[name] = data
	}
	// One chunk changed and one added: stored as a delta of the first.
	huge := append(bytes.Clone(files["huge.bin"]), randomBytes(3, 1000)...)
	copy(huge[70000:], "XXXX")
	files["huge.bin"] = huge
	writeFile(t, src, "huge.bin", huge)
	runAppOK(t, env, "snapshot", "--repo", repo, src)

	list := strings.Split(strings.TrimSpace(python(t, reader, repo)), "\n")
	if len(list) != 2 || strings.Fields(list[1])[4] != strings.Fields(list[0])[0] {
		t.Fatalf("read_repo.py lists %q; want two snapshots, the second the first's child", list)
	}
	for i, want := range []map[string][]byte{first, files} {
		snap := strings.Fields(list[i])[0]
		for name, data := range want {
			out := filepath.Join(dir, "out")
			python(t, reader, repo, snap, name, out)
			got, err := os.ReadFile(out)
			must(t, err)
			if !bytes.Equal(got, data) {
				t.Errorf("snapshot %d, %s: read_repo.py wrote %d bytes, not the file's %d", i+1, name, len(got), len(data))
			}
		}
	}
}

func python(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("python3", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("read_repo.py %q: %v: %s", args[1:], err, stderr.String())
	}
	return string(out)
}
