//go:build unix

package snapshot

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckDamagedManifestAdvice: check points to repair for a damaged
// manifest whose copy the local index holds (repair puts it back), and to
// forget when it holds none.
func TestCheckDamagedManifestAdvice(t *testing.T) {
	r, m, _ := indexDamageRepo(t)
	if err := os.WriteFile(filepath.Join(r.store.Location(), "snapshots", m.ID), []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	advice := func() string {
		t.Helper()
		res, err := r.Check(t.Context(), CheckOptions{})
		if !errors.Is(err, ErrCheckFailed) || len(res.Problems) != 1 {
			t.Fatalf("check: %v %q", err, res.Problems)
		}
		return res.Problems[0]
	}
	if p := advice(); !strings.Contains(p, "'wimsnap repair' puts back") || strings.Contains(p, "forget") {
		t.Errorf("with the manifest in the local index: %q", p)
	}
	if err := os.Remove(r.IndexPath()); err != nil {
		t.Fatal(err)
	}
	if p := advice(); !strings.Contains(p, "'wimsnap forget "+m.ID[:8]+"' removes it") {
		t.Errorf("without a copy: %q", p)
	}
}
