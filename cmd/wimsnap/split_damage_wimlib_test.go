//go:build unix && wimlib

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestOracleSplitDamageNamesPart: a damaged data block in a part of a
// split WIM (wimlib-imagex split) other than the one named is reported by
// verify, apply and import with the part's file and number: the errors
// named only the first part and the offset in the other, so nobody knew
// which file to replace.
func TestOracleSplitDamageNamesPart(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	addRandomFiles(t, src, 4, 300)
	whole := filepath.Join(tmp, "x.wim")
	wimtest.Wimlib(t, "capture", src, whole, "--compress=none")
	swm := filepath.Join(tmp, "p.swm")
	wimtest.Wimlib(t, "split", whole, swm, "0.5") // one 400 KiB file a part
	part3 := filepath.Join(tmp, "p3.swm")
	f, err := os.OpenFile(part3, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("damage!!"), 208+1000); err != nil { // in its resource, after the header
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want := "p3.swm (part 3 of "
	env := map[string]string{"WIMSNAP_CACHE_DIR": filepath.Join(tmp, "cache")}
	repo := filepath.Join(tmp, "repo")
	runAppOK(t, env, "init", "--repo", repo)
	for _, args := range [][]string{
		{"verify", swm},
		{"apply", swm, "1", filepath.Join(tmp, "out")},
		{"import", swm, "--repo", repo},
	} {
		code, _, errb := runApp(t, env, args...)
		if code == exitOK || !strings.Contains(errb, want) {
			t.Errorf("%s: exit %d, want a failure naming %q: %s", args[0], code, want, errb)
		}
	}
}
