//go:build unix && wimlib

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// dismConfig is DISM's default WimScript.ini as an admin keeps it.
const dismConfig = `; DISM default exclusions
[ExclusionList]
\$ntfs.log
\hiberfil.sys
\pagefile.sys
\swapfile.sys
"\System Volume Information"
\RECYCLER
\$Recycle.Bin
\Windows\CSC

[CompressionExclusionList]
*.mp3
*.zip
*.cab
\WINDOWS\inf\*.pnf

[ExclusionException]
`

// TestOracleCompressionExclusionList captures with DISM's default
// WimScript.ini, saved as Notepad saves it (UTF-16LE, BOM, CRLF): the
// files [CompressionExclusionList] names are stored uncompressed, as DISM
// stores them, the others compressed, and wimlib-imagex verifies the WIM
// and leaves out the files it leaves out with the same file. The section was parsed
// and then ignored: every file was compressed.
func TestOracleCompressionExclusionList(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	body := func(name string) []byte { return bytes.Repeat([]byte(name+" compresses well. "), 4000) }
	const excluded, stored, packed = "excluded", "stored uncompressed", "compressed"
	files := map[string]string{ // relative path: what becomes of it
		"Users/bob/Music/song.mp3": stored, "Users/bob/a.zip": stored, "Windows/System32/d.cab": stored,
		"Windows/inf/a.pnf": stored, "Windows/inf/a.inf": packed, "keep.txt": packed, "data/a.pnf": packed,
		"pagefile.sys": excluded, "System Volume Information/x": excluded, "Windows/CSC/v2/c": excluded,
	}
	for rel := range files {
		p := filepath.Join(src, rel)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, body(rel), 0o644))
	}
	cfg := filepath.Join(tmp, "WimScript.ini")
	must(t, os.WriteFile(cfg, append([]byte{0xFF, 0xFE}, utf16le(strings.ReplaceAll(dismConfig, "\n", "\r\n"))...), 0o644))
	ours, theirs := filepath.Join(tmp, "ours.wim"), filepath.Join(tmp, "theirs.wim")
	runAppOK(t, nil, "capture", "--config", cfg, src, ours)
	wimtest.Wimlib(t, "capture", src, theirs, "--config="+cfg)
	wimtest.Wimlib(t, "verify", ours)
	if got, want := wimtest.Wimlib(t, "dir", ours, "1"), wimtest.Wimlib(t, "dir", theirs, "1"); got != want {
		t.Errorf("wimsnap kept\n%s\nwimlib-imagex kept\n%s", got, want)
	}
	compressed := wimlibCompressed(t, ours)
	for rel, want := range files {
		got := excluded
		if z, ok := compressed["/"+rel]; ok {
			got = map[bool]string{true: packed, false: stored}[z]
		}
		if got != want {
			t.Errorf("%s: %s, want %s", rel, got, want)
		}
	}
}

// wimlibCompressed maps the path of each file of image 1 of wimfile that
// has contents to whether wimlib-imagex reports its blob compressed.
func wimlibCompressed(t *testing.T, wimfile string) map[string]bool {
	t.Helper()
	flags := map[string]bool{} // hash: compressed
	var hash string
	for line := range strings.Lines(wimtest.Wimlib(t, "info", wimfile, "--blobs")) {
		key, val, _ := strings.Cut(line, "=")
		switch strings.TrimSpace(key) {
		case "Hash":
			hash = strings.TrimSpace(val)
		case "Flags":
			flags[hash] = strings.Contains(val, "WIM_RESHDR_FLAG_COMPRESSED")
		}
	}
	files := map[string]bool{}
	var path string
	for line := range strings.Lines(wimtest.Wimlib(t, "dir", wimfile, "1", "--detailed")) {
		key, val, _ := strings.Cut(line, "=")
		switch strings.TrimSpace(key) {
		case "Full Path":
			path = strings.Trim(strings.TrimSpace(val), `"`)
		case "Hash":
			files[path] = flags[strings.TrimSpace(val)]
		}
	}
	return files
}
