//go:build unix && wimlib

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestOracleKeepsChunkSize: a WIM rewritten in its own codec keeps its
// chunk size, as wimlib-imagex keeps it, and a WIMBoot WIM (XPRESS in
// 4 KiB chunks) stays WIMBoot-compatible: renaming an image, deleting
// one, optimize, export-image to a new WIM and append. Each made it
// XPRESS in 32 KiB chunks and dropped its WIMBOOT element; append, and
// export-image into such a WIM, were refused. A new codec takes its
// default chunk size.
func TestOracleKeepsChunkSize(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	writeFile(t, src, "a.txt", []byte(strings.Repeat("wimboot keeps 4 KiB chunks\n", 20000)))
	writeFile(t, src, "b.bin", wimtest.RandomBytes(9, 100<<10))
	base := filepath.Join(tmp, "wb.wim")
	wimtest.Wimlib(t, "capture", src, base, "one", "--wimboot", "--config=/dev/null")
	wimtest.Wimlib(t, "append", src, base, "two", "--wimboot", "--config=/dev/null")
	fresh := func(name string) string {
		p := filepath.Join(tmp, name)
		b, err := os.ReadFile(base)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, tmp, name, b)
		return p
	}
	for _, c := range []struct {
		name string
		args func(w string) []string
	}{
		{"rename", func(w string) []string { return []string{"info", w, "1", "--name=renamed"} }},
		{"delete", func(w string) []string { return []string{"delete", w, "1"} }},
		{"optimize", func(w string) []string { return []string{"optimize", w} }},
		{"append", func(w string) []string { return []string{"append", src, w, "--name=three"} }},
	} {
		w := fresh(c.name + ".wim")
		runAppOK(t, nil, c.args(w)...)
		checkWIMBoot(t, c.name, w)
	}
	exported := filepath.Join(tmp, "exported.wim")
	runAppOK(t, nil, "export-image", base, "2", exported)
	checkWIMBoot(t, "export-image", exported)
	runAppOK(t, nil, "export-image", base, "1", exported) // into an existing WIM of 4 KiB chunks
	checkWIMBoot(t, "export-image into it", exported)

	lzx := fresh("lzx.wim")
	runAppOK(t, nil, "optimize", lzx, "--compress=lzx")
	if got := wimlibHeaderField(t, lzx, "Chunk Size"); got != "32768 bytes" {
		t.Errorf("optimize --compress=lzx: chunk size %s, want LZX's default", got)
	}
	wimtest.Wimlib(t, "verify", lzx)
}

// checkWIMBoot fails t unless wimlib-imagex finds w sound, in 4 KiB
// chunks and WIMBoot-compatible.
func checkWIMBoot(t *testing.T, what, w string) {
	t.Helper()
	wimtest.Wimlib(t, "verify", w)
	if got := wimlibHeaderField(t, w, "Chunk Size"); got != "4096 bytes" {
		t.Errorf("%s: chunk size %s, want 4096 bytes", what, got)
	}
	if got := wimlibHeaderField(t, w, "WIMBoot compatible"); got != "yes" {
		t.Errorf("%s: WIMBoot compatible: %q", what, got)
	}
}

// wimlibHeaderField returns the value wimlib-imagex info prints for key
// in the WIM's header information (the first line of that key).
func wimlibHeaderField(t *testing.T, w, key string) string {
	t.Helper()
	for _, line := range strings.Split(wimtest.Wimlib(t, "info", w), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
