//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigWarningsInJSON: what a --config file holds that is ignored as
// a likely mistake is a warning of the --json document of capture and
// snapshot, and on stderr without --json (it went to stderr alone, the
// document saying "warnings": []).
func TestConfigWarningsInJSON(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "a", []byte("a"))
	ini := filepath.Join(dir, "b.ini")
	if err := os.WriteFile(ini, []byte("[Bogus]\nfoo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache")}
	runAppOK(t, env, "init")
	for _, args := range [][]string{
		{"capture", src, filepath.Join(dir, "x.wim"), "--config", ini},
		{"snapshot", src, "--config", ini},
	} {
		code, out, errb := runApp(t, env, append(args, "--json")...)
		var doc struct {
			Warnings []struct{ Path, Error string }
			Total    int `json:"warnings_total"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil || code != exitOK {
			t.Fatalf("%s: exit %d, %v\n%s%s", args[0], code, err, out, errb)
		}
		if doc.Total != 1 || len(doc.Warnings) != 1 || doc.Warnings[0].Path != ini || !strings.Contains(doc.Warnings[0].Error, "unknown section [Bogus]") {
			t.Errorf("%s --json: warnings %+v, total %d", args[0], doc.Warnings, doc.Total)
		}
		if errb != "" {
			t.Errorf("%s --json: stderr %q", args[0], errb)
		}
		if _, _, errb = runApp(t, env, args...); !strings.Contains(errb, "warning: "+ini+": line 1: unknown section [Bogus]") {
			t.Errorf("%s: stderr %q", args[0], errb)
		}
	}
}
