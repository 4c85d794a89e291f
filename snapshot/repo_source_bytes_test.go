//go:build unix

package snapshot

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSnapshotSourceNotUTF8: a source directory whose name is not UTF-8
// is recorded byte for byte and read back so from the repository: its next
// snapshot has it as parent (JSON alone turned the name's byte into U+FFFD,
// so no snapshot of it ever had a parent), and a directory that differs
// from it only in such a byte is not its parent.
func TestSnapshotSourceNotUTF8(t *testing.T) {
	tmp := t.TempDir()
	latin1, other := filepath.Join(tmp, "caf\xe9"), filepath.Join(tmp, "caf\xe8")
	for _, dir := range []string{latin1, other} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte(dir), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := testRepo(t, 0)
	first := snapshotOK(t, r, latin1, TakeOptions{})
	again := snapshotOK(t, r, latin1, TakeOptions{})
	if again.Manifest.Parent != first.Manifest.ID {
		t.Errorf("second snapshot of %q has parent %q, want %s", latin1, again.Manifest.Parent, first.Manifest.ShortID())
	}
	second := snapshotOK(t, r, other, TakeOptions{})
	if second.Manifest.Parent != "" {
		t.Errorf("snapshot of %q has parent %s, the snapshot of %q", other, second.Manifest.Parent[:8], latin1)
	}
	list, err := r.Snapshots(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range list {
		got[m.ID] = m.Source
	}
	if got[first.Manifest.ID] != latin1 || got[second.Manifest.ID] != other {
		t.Errorf("sources read back %q, %q; want %q, %q", got[first.Manifest.ID], got[second.Manifest.ID], latin1, other)
	}
}
