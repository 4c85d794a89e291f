//go:build unix

package main

import (
	"path/filepath"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestOracleLZMS: capture --compress=lzms writes an LZMS WIM as wimlib
// writes one (version 0xE00, 128 KiB chunks, resources not solid) that
// wimlib verifies and applies to the source tree; append adds a second
// image to it, and wimlib appends a third, so either tool takes the
// other's LZMS WIM; optimize --compress=lzms rewrites wimlib's own.
func TestOracleLZMS(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	bin := buildBinary(t)
	tmp := t.TempDir()
	src, wimfile := filepath.Join(tmp, "src"), filepath.Join(tmp, "l.wim")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	mustRun(t, bin, 0, "capture", src, wimfile, "--compress=lzms", "--name=one")
	h := wimtest.Open(t, wimfile).Header()
	if h.Compression != wim.CompressLZMS || h.ChunkSize != 131072 || h.Version != 0xE00 {
		t.Fatalf("header: %v, %d-byte chunks, version %#x", h.Compression, h.ChunkSize, h.Version)
	}
	wimtest.Wimlib(t, "verify", wimfile)
	mustRun(t, bin, 0, "append", src+"/data", wimfile, "--name=two")
	wimtest.Wimlib(t, "append", src, wimfile, "three", "--unix-data")
	wimtest.Wimlib(t, "verify", wimfile)
	for _, img := range []string{"1", "3"} {
		out := filepath.Join(tmp, "wimlib-"+img)
		wimtest.Wimlib(t, "apply", wimfile, img, out, "--unix-data")
		wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
		ours := filepath.Join(tmp, "ours-"+img)
		mustRun(t, bin, 0, "apply", wimfile, img, ours)
		wimtest.CompareTrees(t, src, ours, wimtest.CompareOptions{})
	}
	out := filepath.Join(tmp, "wimlib-2")
	wimtest.Wimlib(t, "apply", wimfile, "2", out, "--unix-data")
	wimtest.CompareTrees(t, src+"/data", out, wimtest.CompareOptions{})

	// export-image into a new LZMS WIM and delete copy the 128 KiB chunks
	// as they are stored.
	exported := filepath.Join(tmp, "exported.wim")
	mustRun(t, bin, 0, "export-image", wimfile, "3", exported, "--compress=lzms")
	mustRun(t, bin, 0, "delete", wimfile, "2")
	for _, f := range []string{exported, wimfile} {
		wimtest.Wimlib(t, "verify", f)
		if h := wimtest.Open(t, f).Header(); h.Compression != wim.CompressLZMS || h.ChunkSize != 131072 {
			t.Fatalf("%s: %v, %d-byte chunks", f, h.Compression, h.ChunkSize)
		}
	}
	out = filepath.Join(tmp, "exported")
	wimtest.Wimlib(t, "apply", exported, "1", out, "--unix-data")
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})

	theirs := filepath.Join(tmp, "wimlib.wim")
	wimtest.Wimlib(t, "capture", src, theirs, "--unix-data", "--compress=lzms")
	mustRun(t, bin, 0, "optimize", theirs, "--compress=lzms")
	wimtest.Wimlib(t, "verify", theirs)
	out = filepath.Join(tmp, "optimized")
	wimtest.Wimlib(t, "apply", theirs, "1", out, "--unix-data")
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
}
