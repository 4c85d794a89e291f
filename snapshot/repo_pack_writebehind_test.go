//go:build unix

package snapshot

import (
	"path/filepath"
	"testing"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
)

// TestPackWriteBehind: packs write behind into a store that takes their
// spool files itself (a local directory), and not into one that reads and
// drops them (memory, S3), where the writes would be wasted.
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
		if p.writeBehind != c.want {
			t.Errorf("%s store: writeBehind %v, want %v", c.name, p.writeBehind, c.want)
		}
		p.discard()
	}
}
