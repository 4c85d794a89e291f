package main

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

// TestVersion: "wimsnap version" and "wimsnap --version" print the same
// line, which names the Go release; --json gives its fields.
func TestVersion(t *testing.T) {
	out := runAppOK(t, nil, "version")
	if !strings.HasPrefix(out, "wimsnap ") || !strings.Contains(out, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH) {
		t.Errorf("version: %q", out)
	}
	if flag := runAppOK(t, nil, "--version"); flag != out {
		t.Errorf("--version: %q, version: %q", flag, out)
	}
	if doc, flag := runAppOK(t, nil, "version", "--json"), runAppOK(t, nil, "--version", "--json"); flag != doc {
		t.Errorf("--version --json: %q, version --json: %q", flag, doc) // it printed the text line
	}
	if code, _, errb := runApp(t, nil, "version", "x"); code != exitUsage || !strings.Contains(errb, "version takes no arguments, got 1 argument") {
		t.Errorf("version x: exit %d: %s", code, errb) // it said "want version, got 1 argument"
	}
	var v versionInfo
	if err := json.Unmarshal([]byte(runAppOK(t, nil, "version", "--json")), &v); err != nil || v.Go != runtime.Version() || v.Version == "" {
		t.Errorf("version --json: %+v, %v", v, err)
	}
}

// TestVersionLine: the line names the commit when the build has one.
func TestVersionLine(t *testing.T) {
	v := versionInfo{Version: "v1.2.0", Revision: "1a2b3c4d5e6f7a8b", Modified: true, Time: "2026-12-07T15:00:00Z", Go: "go1.26.8", Platform: "linux/amd64"}
	if got, want := v.String(), "v1.2.0 (commit 1a2b3c4d5e6f, modified, 2026-12-07T15:00:00Z; go1.26.8 linux/amd64)"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	v.Revision = ""
	if got, want := v.String(), "v1.2.0 (go1.26.8 linux/amd64)"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}
