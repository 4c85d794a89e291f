//go:build unix

package snapshot

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFoldsListedCaseSensitive: a directory that tells case apart is not
// taken to fold it, also when it holds a name in two cases (each a file
// of its own, listed both); one without a name with letters tells nothing.
func TestFoldsListedCaseSensitive(t *testing.T) {
	for _, tc := range []struct {
		names       []string
		folds, told bool
	}{
		{[]string{"123", "Docs"}, false, true},
		{[]string{"Docs", "x", "DOCS"}, false, true},
		{[]string{"DOCS", "Docs"}, false, true},
		{[]string{"1", "2"}, false, false},
	} {
		dir := t.TempDir()
		for _, n := range tc.names {
			must(t, os.WriteFile(filepath.Join(dir, n), nil, 0o644))
		}
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		must(t, err)
		folds, told := foldsListed(fd, make([]byte, 4096))
		closeFD(fd)
		if folds != tc.folds || told != tc.told {
			t.Errorf("%v: folds %v, told %v; want %v, %v", tc.names, folds, told, tc.folds, tc.told)
		}
	}
}
