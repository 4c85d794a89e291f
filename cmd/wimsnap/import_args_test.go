//go:build unix

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportImageArgs: import takes "all", as wimlib-imagex does, and
// refuses an image named twice (exit 2), as export-image does; a WIM of no
// images says that nothing was imported. "all" was no such image, the
// twice-named image was imported once without a word, and an empty WIM's
// import printed nothing.
func TestImportImageArgs(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache"), "HOME": dir}
	runAppOK(t, env, "init")
	src := filepath.Join(dir, "src")
	writeFile(t, src, "f", []byte("f"))
	w := filepath.Join(dir, "c.wim")
	runAppOK(t, env, "capture", src, w, "--name=one")
	if out := runAppOK(t, env, "import", w, "all"); !strings.Contains(out, "Imported image 1 (one)") {
		t.Errorf("import all: %q", out)
	}
	if code, _, errb := runApp(t, env, "import", w, "1", "one"); code != exitUsage || !strings.Contains(errb, "named twice") {
		t.Errorf("import 1 one: exit %d, %q", code, errb)
	}
	runAppOK(t, env, "delete", w, "1")
	if out := runAppOK(t, env, "import", w); !strings.Contains(out, "holds no images: nothing imported") {
		t.Errorf("import of an empty WIM: %q", out)
	}
}

// TestImportFailedSaysNoImages: an import whose first image fails does
// not say that the WIM holds no images, which it printed beside the error.
func TestImportFailedSaysNoImages(t *testing.T) {
	env := testRepoEnv(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	data := randomBytes(7, 100<<10)
	writeFile(t, src, "f", data)
	w := filepath.Join(dir, "c.wim")
	runAppOK(t, env, "capture", src, w, "--compress=none")
	b, err := os.ReadFile(w)
	must(t, err)
	i := bytes.Index(b, data[:64])
	if i < 0 {
		t.Fatal("the file's data is not in the WIM as it is")
	}
	b[i+1000] ^= 1
	must(t, os.WriteFile(w, b, 0o644))
	code, out, errb := runApp(t, env, "import", w)
	if code != exitFailure || strings.Contains(out, "holds no images") {
		t.Errorf("import of a damaged image: exit %d, stdout %q, stderr %q", code, out, errb)
	}
}
