//go:build unix

package main

import (
	"encoding/json"
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

// TestInitCompressLevel: init --compress=xpress:LEVEL records the level in
// the repository's config, and that repository's snapshots store a text
// tree in fewer bytes than one made with the default (the fast encoder),
// and restore it; a level with another codec is not recorded, and a level
// of 0 is a usage error.
func TestInitCompressLevel(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	addWordFiles(t, src, 6, 200<<10)
	env := map[string]string{envCacheDir: filepath.Join(tmp, "cache"), "HOME": filepath.Join(tmp, "home")}
	stored := map[string]int64{}
	for _, c := range []string{"xpress", "xpress:80", "lzx:80"} {
		repo := filepath.Join(tmp, strings.ReplaceAll(c, ":", "-"))
		var created struct {
			Codec string `json:"codec"`
			Level int    `json:"level"`
		}
		must(t, json.Unmarshal([]byte(runAppOK(t, env, "init", "--repo", repo, "--compress="+c, "--json")), &created))
		cfg, err := os.ReadFile(filepath.Join(repo, "config"))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"xpress:80": 80}[c]
		if created.Level != want || strings.Contains(string(cfg), `"level"`) != (want != 0) {
			t.Errorf("init --compress=%s: level %d, config %s; want level %d", c, created.Level, cfg, want)
		}
		var snap struct {
			Stored int64 `json:"new_bytes_stored"`
		}
		must(t, json.Unmarshal([]byte(runAppOK(t, env, "snapshot", src, "--repo", repo, "--json")), &snap))
		stored[c] = snap.Stored
		target := filepath.Join(tmp, "restored-"+filepath.Base(repo))
		runAppOK(t, env, "restore", "latest", "--target", target, "--repo", repo)
		compareTrees(t, src, target)
	}
	if stored["xpress:80"] <= 0 || stored["xpress:80"] >= stored["xpress"] {
		t.Errorf("new chunks stored: %d bytes at level 80, %d by default: want fewer", stored["xpress:80"], stored["xpress"])
	}
	code, _, errb := runApp(t, env, "init", "--repo", filepath.Join(tmp, "zero"), "--compress=xpress:0")
	if code != exitUsage || !strings.Contains(errb, "not a positive integer") {
		t.Errorf("init --compress=xpress:0: exit %d, %s; want a usage error", code, errb)
	}
	// LZMS, which WIMs take, is not a repository codec: a usage error,
	// and no repository.
	lzms := filepath.Join(tmp, "lzms")
	code, _, errb = runApp(t, env, "init", "--repo", lzms, "--compress=lzms")
	if _, err := os.Stat(lzms); code != exitUsage || !strings.Contains(errb, "none, xpress or lzx") || err == nil {
		t.Errorf("init --compress=lzms: exit %d, %s (stat: %v); want a usage error and no repository", code, errb, err)
	}
}
