//go:build unix

package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addWordFiles writes n files of size bytes of word salad under dir: text
// of the kind the XPRESS encoders tell apart (the fast one finds fewer of
// its matches).
func addWordFiles(t *testing.T, dir string, n, size int) {
	t.Helper()
	words := strings.Fields(`the of and to in is that for it as with was on be by this are at from
		or have an they which one you were her all she there would their we him been has when who will
		int char return struct static const void unsigned size_t if else while for break case switch`)
	for i := range n {
		r := rand.New(rand.NewPCG(uint64(i), 7))
		var b strings.Builder
		for b.Len() < size {
			b.WriteString(words[int(float64(len(words))*r.Float64()*r.Float64())])
			b.WriteString([]string{" ", " ", " ", ", ", ";\n", "(", ") "}[r.IntN(7)])
		}
		writeFile(t, dir, fmt.Sprintf("f%02d.c", i), []byte(b.String()[:size]))
	}
}

// TestCaptureCompressLevel captures a text tree at levels 20, 50 (the
// default) and 100: each WIM verifies and applies back to the tree, and
// level 20 (the fast encoder) takes more bytes than level 50, as do
// optimize and export-image (into a new WIM of another codec) given it.
func TestCaptureCompressLevel(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	addWordFiles(t, src, 6, 200<<10)
	sizes := map[string]int64{}
	for _, c := range []string{"xpress:20", "xpress", "XPRESS:100", "lzx:20"} {
		wimfile := filepath.Join(tmp, strings.ReplaceAll(c, ":", "-")+".wim")
		runAppOK(t, nil, "capture", src, wimfile, "--compress="+c, "--check")
		runAppOK(t, nil, "verify", wimfile)
		target := filepath.Join(tmp, "apply-"+filepath.Base(wimfile))
		runAppOK(t, nil, "apply", wimfile, target)
		compareTrees(t, src, target)
		st, err := os.Stat(wimfile)
		if err != nil {
			t.Fatal(err)
		}
		sizes[c] = st.Size()
	}
	def := sizes["xpress"]
	if sizes["xpress:20"] <= def {
		t.Errorf("capture --compress=xpress:20 gave %d bytes, xpress %d: want more", sizes["xpress:20"], def)
	}
	optimized, exported := filepath.Join(tmp, "optimized.wim"), filepath.Join(tmp, "exported.wim")
	runAppOK(t, nil, "optimize", filepath.Join(tmp, "xpress.wim"), "--compress=fast:20", "--output="+optimized)
	runAppOK(t, nil, "export-image", filepath.Join(tmp, "lzx-20.wim"), "1", exported, "--compress=xpress:20")
	for _, wimfile := range []string{optimized, exported} {
		runAppOK(t, nil, "verify", wimfile)
		st, err := os.Stat(wimfile)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() <= def {
			t.Errorf("%s: %d bytes, xpress %d: want more", filepath.Base(wimfile), st.Size(), def)
		}
	}
}
