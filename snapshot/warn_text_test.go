package snapshot

import (
	"errors"
	"io/fs"
	"testing"
)

// TestJoinErrs: an entry's several failures read as one line, and each
// is still found by errors.Is; none is no error.
func TestJoinErrs(t *testing.T) {
	err := joinErrs(errors.New("chown: read-only file system"), nil, fs.ErrPermission)
	if got, want := err.Error(), "chown: read-only file system; permission denied"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if !errors.Is(err, fs.ErrPermission) {
		t.Error("errors.Is does not find a joined error")
	}
	if joinErrs(nil, nil) != nil {
		t.Error("no errors joined is not nil")
	}
	if countFiles(1) != "1 file" || countFiles(3) != "3 files" {
		t.Errorf("countFiles: %q, %q", countFiles(1), countFiles(3))
	}
}
