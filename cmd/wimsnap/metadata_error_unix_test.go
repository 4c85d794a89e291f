//go:build unix

package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMetadataErrorMessages: a WIM whose image metadata cannot be read
// fails dir, apply and append --update-of with a message that names the
// image once ("x.wim: image 1 metadata: wim: ..."), not "x.wim: image 1:
// image 1 metadata: ...".
func TestMetadataErrorMessages(t *testing.T) {
	tmp := t.TempDir()
	src, wimPath := filepath.Join(tmp, "src"), filepath.Join(tmp, "x.wim")
	writeFile(t, src, "a.txt", []byte("some data"))
	runAppOK(t, nil, "capture", src, wimPath)
	damageMetadata(t, wimPath)
	tests := []struct {
		name string
		args []string
		want string // stderr holds it
	}{
		{name: "dir", args: []string{"dir", wimPath}, want: "x.wim: image 1 metadata: wim: "},
		{name: "apply", args: []string{"apply", wimPath, filepath.Join(tmp, "out")}, want: "x.wim: image 1 metadata: wim: "},
		{name: "append --update-of", args: []string{"append", src, wimPath, "--name=two", "--update-of=1"},
			want: "--update-of: image 1 metadata: wim: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errb := runApp(t, nil, tt.args...)
			if code != exitFailure || !strings.Contains(errb, tt.want) ||
				strings.Count(errb, "image 1") != 1 {
				t.Errorf("exit %d, stderr %q; want exit 1, %q, image 1 named once", code, errb, tt.want)
			}
		})
	}
}

// damageMetadata flips a byte in the middle of the WIM's (only) metadata
// resource.
func damageMetadata(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const entrySize, metadataFlag = 50, 0x02
	table := binary.LittleEndian.Uint64(b[56:64]) // the blob table's resource header: offset
	size := binary.LittleEndian.Uint64(b[48:56]) & (1<<56 - 1)
	for e := table; e+entrySize <= table+size; e += entrySize {
		if b[e+7]&metadataFlag != 0 {
			off, n := binary.LittleEndian.Uint64(b[e+8:e+16]), binary.LittleEndian.Uint64(b[e:e+8])&(1<<56-1)
			b[off+n/2] ^= 0x10
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatal("no metadata resource in the blob table")
}
