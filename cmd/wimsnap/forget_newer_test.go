//go:build unix

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestForgetNewerSnapshot: forget of a snapshot whose manifest a newer
// wimsnap wrote, named by its id, is refused and says why; it said "no
// such snapshot, skipped ... (forgotten already?)", exit 3, right after
// the listing had warned that the snapshot was a newer wimsnap's.
func TestForgetNewerSnapshot(t *testing.T) {
	env := testRepoEnv(t)
	src := t.TempDir()
	writeFile(t, src, "f", []byte("data"))
	runAppOK(t, env, "snapshot", src)
	dir := filepath.Join(env[envRepository], "snapshots")
	names, err := filepath.Glob(filepath.Join(dir, strings.Repeat("[0-9a-f]", 64)))
	if err != nil || len(names) == 0 {
		t.Fatalf("manifests %q: %v", names, err)
	}
	stored, err := os.ReadFile(names[0])
	must(t, err)
	dec, err := zstd.NewReader(nil)
	must(t, err)
	plain, err := dec.DecodeAll(stored, nil)
	must(t, err)
	newer := bytes.Replace(plain, []byte(`"version":1`), []byte(`"version":2`), 1)
	if bytes.Equal(newer, plain) {
		t.Fatalf("no version in the manifest: %s", plain)
	}
	enc, err := zstd.NewWriter(nil)
	must(t, err)
	b := enc.EncodeAll(newer, nil)
	sum := sha256.Sum256(b)
	id := hex.EncodeToString(sum[:])
	must(t, os.WriteFile(filepath.Join(dir, id), b, 0o644))
	code, _, errb := runApp(t, env, "forget", id[:8])
	if code == exitOK || code == exitPartial || !strings.Contains(errb, "written by a newer wimsnap") || strings.Contains(errb, "forgotten already") {
		t.Errorf("forget of a newer snapshot: exit %d: %s", code, errb)
	}
	if _, err := os.Stat(filepath.Join(dir, id)); err != nil {
		t.Errorf("the newer snapshot is gone: %v", err)
	}
}
