//go:build unix && wimlib

package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestOracleCaptureCompressLevel captures a text tree with
// --compress=TYPE:LEVEL as wimlib-imagex users write it: wimlib-imagex
// verifies each WIM and applies it back to the tree.
func TestOracleCaptureCompressLevel(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	addWordFiles(t, src, 4, 100<<10)
	for _, c := range []string{"xpress:20", "fast:100", "lzx:20", "LZX:100", "max:50"} {
		wimfile := filepath.Join(tmp, strings.ReplaceAll(c, ":", "-")+".wim")
		runAppOK(t, nil, "capture", src, wimfile, "--compress="+c)
		wimtest.Wimlib(t, "verify", wimfile)
		target := filepath.Join(tmp, "apply-"+filepath.Base(wimfile))
		wimtest.Wimlib(t, "apply", wimfile, "1", target)
		compareTrees(t, src, target)
	}
}
