//go:build unix

package snapshot

import (
	"path/filepath"
	"testing"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
)

// TestPackWriteBehind: packs head for the disk as they are written (they
// write behind, or bypass the page cache where the file system allows it)
// for a store that takes their spool files itself (a local directory), and
// not for one that reads and drops them (memory, S3), where the writes
// would be wasted.
func TestPackWriteBehind(t *testing.T) {
	local := testRepo(t, wim.CompressXPRESS)
	mem := remote.NewMemory()
	if _, err := InitRepo(t.Context(), mem, wim.CompressXPRESS); err != nil {
		t.Fatal(err)
	}
	inMem, err := OpenRepo(t.Context(), mem, RepoOptions{CacheDir: filepath.Join(t.TempDir(), "cache")})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		r    *Repo
		want bool
	}{{"local", local, true}, {"memory", inMem, false}} {
		p := c.r.newRepoPack()
		if got := p.writeBehind || p.spool.direct; got != c.want {
			t.Errorf("%s store: writeBehind %v, direct %v, want either %v", c.name, p.writeBehind, p.spool.direct, c.want)
		}
		p.discard()
	}
}
