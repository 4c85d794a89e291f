//go:build unix

package snapshot

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckDamagedManifestAdvice: check points to repair for a damaged
// manifest whose copy the local index holds (repair puts it back), and to
// forget when it holds none. A rebuild of the local index keeps the copy.
func TestCheckDamagedManifestAdvice(t *testing.T) {
	r, m, src := indexDamageRepo(t)
	if err := os.WriteFile(filepath.Join(src, "e"), []byte("e"), 0o644); err != nil {
		t.Fatal(err)
	}
	snapshotOK(t, r, src, TakeOptions{}) // whole, and sharing the streams
	if err := os.WriteFile(filepath.Join(r.store.Location(), "snapshots", m.ID), []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	var res CheckResult
	advice := func() string {
		t.Helper()
		var err error
		res, err = r.Check(t.Context(), CheckOptions{})
		if !errors.Is(err, ErrCheckFailed) || len(res.Problems) != 1 {
			t.Fatalf("check: %v %q", err, res.Problems)
		}
		return res.Problems[0]
	}
	if p := advice(); !strings.Contains(p, "'wimsnap repair' puts back") || strings.Contains(p, "forget") {
		t.Errorf("with the manifest in the local index: %q", p)
	}
	// A check that rebuilds a damaged local index keeps that copy.
	h := sha1.Sum(bytes.Repeat([]byte("a"), 50000))
	damageIndexKey(t, r, h[:])
	if p := advice(); !strings.Contains(p, "'wimsnap repair' puts back") || res.LocalIndexRebuilt == "" {
		t.Errorf("after a rebuild (%q): %q", res.LocalIndexRebuilt, p)
	}
	if err := os.Remove(r.IndexPath()); err != nil {
		t.Fatal(err)
	}
	if p := advice(); !strings.Contains(p, "'wimsnap forget "+m.ID[:8]+"' removes it") {
		t.Errorf("without a copy: %q", p)
	}
}
