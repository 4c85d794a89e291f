//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestOddSourceNames: a source directory (or an imported WIM) named with a
// newline or with a byte that is not UTF-8 keeps its exact name: forget
// --path finds it, an import run again finds its image imported before,
// --json gives its bytes ("source_bytes"), and text output quotes it, so
// that a newline in it cannot forge a line of snapshot's or forget's
// output. The image of a directory whose own name is not UTF-8 is named
// with the byte escaped ("caf\xe9"), by snapshot as by capture; snapshot
// named it "caf\ufffd".
func TestOddSourceNames(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache"), "HOME": dir}
	runAppOK(t, env, "init")
	// An import's source is the WIM's path and image: run again, it finds
	// the image imported before (it imported it anew, as the lossy source
	// never matched).
	wimfile := filepath.Join(dir, "caf\xe9.wim")
	writeFile(t, filepath.Join(dir, "wim"), "f", []byte("f"))
	runAppOK(t, env, "capture", filepath.Join(dir, "wim"), wimfile)
	runAppOK(t, env, "import", wimfile)
	if out := runAppOK(t, env, "import", wimfile); !strings.Contains(out, "already") {
		t.Errorf("second import of %q: %q, want the image found imported before", wimfile, out)
	}
	for _, name := range []string{"caf\xe9", "a\nremove  forged"} {
		src := filepath.Join(dir, name)
		writeFile(t, src, "f", []byte("f"))
		for range 2 {
			out := runAppOK(t, env, "snapshot", src, "--host=h")
			if strings.Count(out, "\n") != 1 {
				t.Errorf("snapshot of %q prints %q, more than one line", src, out)
			}
		}
		out := runAppOK(t, env, "forget", "--keep-last=1", "--dry-run", "--path="+src)
		if lines := strings.Count(out, "\n"); lines != 4 {
			t.Errorf("forget --path=%q prints %d lines, want 4 (group, keep, remove, total):\n%s", src, lines, out)
		}
		var res struct {
			Groups []struct {
				Keep, Remove []struct {
					Source      string `json:"source"`
					SourceBytes []byte `json:"source_bytes"`
				}
			}
		}
		out = runAppOK(t, env, "forget", "--keep-last=1", "--dry-run", "--json", "--path="+src)
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Groups) != 1 || len(res.Groups[0].Remove) != 1 {
			t.Fatalf("forget --path=%q: groups %+v, want the source's two snapshots", src, res.Groups)
		}
		keep := res.Groups[0].Keep[0]
		if keep.Source != src && !bytes.Equal(keep.SourceBytes, []byte(src)) {
			t.Errorf("forget --json: source %q, source_bytes %q; want %q", keep.Source, keep.SourceBytes, src)
		}
	}
	var list struct {
		Snapshots []struct {
			Source      string `json:"source"`
			SourceBytes []byte `json:"source_bytes"`
			Image       struct {
				Name string `json:"name"`
			} `json:"image"`
		} `json:"snapshots"`
	}
	if err := json.Unmarshal([]byte(runAppOK(t, env, "snapshots", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if s := list.Snapshots[1]; string(s.SourceBytes) != filepath.Join(dir, "caf\xe9") { // [0] is the import
		t.Errorf("snapshots --json: source %q, source_bytes %q; want the bytes %q", s.Source, s.SourceBytes, filepath.Join(dir, "caf\xe9"))
	}
	// The image is named as capture names it: the byte escaped, not U+FFFD.
	if got := list.Snapshots[1].Image.Name; got != `caf\xe9` {
		t.Errorf("the snapshot's image name: %q, want %q", got, `caf\xe9`)
	}
	captured := filepath.Join(dir, "captured.wim")
	runAppOK(t, nil, "capture", filepath.Join(dir, "caf\xe9"), captured)
	if out := runAppOK(t, nil, "info", "--json", captured); !strings.Contains(out, `"name": "caf\\xe9"`) {
		t.Errorf("capture's image name, want %q: %s", `caf\xe9`, out)
	}
}
