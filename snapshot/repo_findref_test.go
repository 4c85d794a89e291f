package snapshot

import (
	"errors"
	"strings"
	"testing"
)

// TestFindRef: "latest" in any letter case is the newest; a prefix of
// several ids names them all, "..." only past three (it ended ", ..."
// with two), and the error says it is ambiguous, not that there is no
// such snapshot (though it is ErrSnapshotNotFound too); a prefix is
// matched in any case and shown as given.
func TestFindRef(t *testing.T) {
	ids := []string{"aa11", "aa22", "ab33", "ac44", "ac45", "ac46", "ac47"}
	id := func(i int) string { return ids[i] }
	for _, ref := range []string{"latest", "LATEST", "Latest"} {
		if i, err := findRef(len(ids), id, ref); err != nil || i != len(ids)-1 {
			t.Errorf("%s: %d, %v", ref, i, err)
		}
	}
	if i, err := findRef(len(ids), id, "AB"); err != nil || i != 2 {
		t.Errorf("AB: %d, %v", i, err)
	}
	for ref, want := range map[string]string{
		"aa": `"aa" is the prefix of 2 snapshots (aa11, aa22)`,
		"ac": `"ac" is the prefix of 4 snapshots (ac44, ac45, ac46, ...)`,
	} {
		_, err := findRef(len(ids), id, ref)
		if !errors.Is(err, ErrSnapshotAmbiguous) || !errors.Is(err, ErrSnapshotNotFound) || !strings.Contains(err.Error(), want) ||
			!strings.HasPrefix(err.Error(), ErrSnapshotAmbiguous.Error()) {
			t.Errorf("%s: %v; want %q", ref, err, want)
		}
	}
	if _, err := findRef(len(ids), id, "ZZ"); !errors.Is(err, ErrSnapshotNotFound) || !strings.Contains(err.Error(), `"ZZ"`) {
		t.Errorf("ZZ: %v", err)
	}
	if _, err := findRef(0, id, "latest"); !errors.Is(err, ErrSnapshotNotFound) {
		t.Errorf("latest of none: %v", err)
	}
}
