//go:build unix && wimlib

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestOracleWIMLock: wimlib-imagex append refuses a WIM while wimsnap
// holds lockWIM's lock on it, so that an append of each at once cannot
// drop the other's image; TestAppendLockedWIM checks the other direction.
func TestOracleWIMLock(t *testing.T) {
	wimlib := wimtest.Require(t, "wimlib-imagex")
	tmp := t.TempDir()
	src, wimPath := filepath.Join(tmp, "src"), filepath.Join(tmp, "x.wim")
	writeFile(t, src, "a.txt", []byte("some data"))
	runAppOK(t, nil, "capture", src, wimPath)
	f, err := os.OpenFile(wimPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := lockWIM(f, wimPath); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(wimlib, "append", src, wimPath, "two").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "locked") {
		t.Errorf("wimlib-imagex append of a WIM wimsnap holds: %v\n%s", err, out)
	}
	closeRead(f)
	wimtest.Wimlib(t, "append", src, wimPath, "two")
}
