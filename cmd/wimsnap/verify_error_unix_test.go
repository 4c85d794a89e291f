//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyErrorNamesWIM: a damaged stream fails verify with a message
// that names the WIM ("verify: x.wim: wim: ..."), as a WIM that cannot be
// opened does, on stderr and in the --json document.
func TestVerifyErrorNamesWIM(t *testing.T) {
	tmp := t.TempDir()
	src, wimPath := filepath.Join(tmp, "src"), filepath.Join(tmp, "x.wim")
	writeFile(t, src, "big.bin", randomBytes(5, 300000))
	runAppOK(t, nil, "capture", src, wimPath)
	b, err := os.ReadFile(wimPath)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0x10 // in big.bin's stream
	if err := os.WriteFile(wimPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	want := "verify: " + wimPath + ": wim: "
	code, _, errb := runApp(t, nil, "verify", wimPath)
	if code != exitFailure || !strings.Contains(errb, want) {
		t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, errb, want)
	}
	_, out, _ := runApp(t, nil, "verify", wimPath, "--json")
	var sum verifySummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.OK || !strings.HasPrefix(sum.Error, want) {
		t.Errorf("--json: %+v (%v); want an error starting %q", sum, err, want)
	}
}
