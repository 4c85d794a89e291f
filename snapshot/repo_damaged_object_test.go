//go:build unix

package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestDamagedIndexObject: a damaged index object in the repository is
// warned about, once, by the commands that sync (listing the snapshots
// said nothing), and a snapshot whose data it lists fails to restore
// naming it, rather than the local index being taken for damaged and
// rebuilt at every run, which found the same loss again.
func TestDamagedIndexObject(t *testing.T) {
	r, tmp, src := oneFileRepo(t)
	before := hostileIDs(t, r.store, indexPrefix)
	writeFiles(t, src, map[string]string{"b": string(wimtest.RandomBytes(7, 100<<10))})
	second := snapshotOK(t, r, src, TakeOptions{}).Manifest
	id := hostileNewID(t, before, hostileIDs(t, r.store, indexPrefix))
	if err := putBytes(t.Context(), r.store, indexKey(id), []byte("junk")); err != nil {
		t.Fatal(err)
	}
	must(t, os.Remove(r.cache))

	fresh, warned := reopenWarned(t, r)
	if _, err := fresh.Snapshots(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.Snapshots(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("index/%x", id[:])
	if len(*warned) != 1 || !strings.Contains((*warned)[0], want) || !strings.Contains((*warned)[0], "repair") {
		t.Fatalf("warnings %q; want one naming %s and repair", *warned, want)
	}
	_, err := fresh.Restore(t.Context(), second, filepath.Join(tmp, "out"), RestoreOptions{})
	if !errors.Is(err, wim.ErrNotFound) || !strings.Contains(err.Error(), "damaged index object") {
		t.Errorf("restore: %v; want the data not found, for a damaged index object", err)
	}
	if slices.ContainsFunc(*warned, func(w string) bool { return strings.Contains(w, "rebuilt") }) {
		t.Errorf("warnings %q: the local index was rebuilt", *warned)
	}
}

// TestNewerManifest: a manifest of a newer format version than this
// wimsnap reads is not damage. Listing leaves it out with a warning that
// says so (not that forget removes it); repair and prune refuse to run
// rather than remove it or the data it may use. Repair removed it as
// "lost".
func TestNewerManifest(t *testing.T) {
	r, old, newer := repoWithNewerManifest(t)
	must(t, r.store.Delete(t.Context(), snapKey(old)))
	must(t, os.Remove(r.cache))

	fresh, warned := reopenWarned(t, r)
	if list, err := fresh.Snapshots(t.Context()); err != nil || len(list) != 0 {
		t.Fatalf("snapshots: %d, %v", len(list), err)
	}
	if len(*warned) != 1 || !strings.Contains((*warned)[0], "newer wimsnap") || strings.Contains((*warned)[0], "forget") {
		t.Errorf("warnings %q; want one saying a newer wimsnap wrote it", *warned)
	}
	if _, err := fresh.Repair(t.Context(), RepairOptions{}); !errors.Is(err, ErrNewerFormat) {
		t.Errorf("repair: %v; want it refused", err)
	}
	if _, err := fresh.Prune(t.Context(), PruneOptions{}); !errors.Is(err, ErrNewerFormat) {
		t.Errorf("prune: %v; want it refused", err)
	}
	if _, err := r.store.Stat(t.Context(), snapKey(objectID(newer))); err != nil {
		t.Errorf("the newer manifest: %v", err)
	}
}

// TestNewerMagic: a pack or index object whose magic names a newer
// format version is ErrNewerFormat, which repair and prune refuse to
// treat as damage; any other bad magic is ErrRepoFormat.
func TestNewerMagic(t *testing.T) {
	for _, c := range []struct {
		got, want string
		newer     bool
	}{
		{"WSNPACK2", packMagic, true},
		{"WSNPACK9", packMagic, true},
		{"WSNPACK0", packMagic, false},
		{"WSNPACKx", packMagic, false},
		{"XSNPACK2", packMagic, false},
		{"WSNPACK", packMagic, false},
		{"wimsnap index 2\n", indexMagic, true},
		{"wimsnap index 2x", indexMagic, false},
	} {
		err := magicErr([]byte(c.got), c.want)
		if errors.Is(err, ErrNewerFormat) != c.newer || errors.Is(err, ErrRepoFormat) == c.newer {
			t.Errorf("magicErr(%q, %q) = %v, newer %v", c.got, c.want, err, c.newer)
		}
	}
	if _, err := parseIndexObject([]byte("wimsnap index 2\nrest")); !errors.Is(err, ErrNewerFormat) {
		t.Errorf("index object of format 2: %v", err)
	}
	if _, err := parsePackBytes(newZcodec(), []byte("data\x00\x00\x00\x00WSNPACK2")); !errors.Is(err, ErrNewerFormat) {
		t.Errorf("pack of format 2: %v", err)
	}
}

// TestCheckOversizedPack: a pack listed larger than a pack may be is
// reported unreadable from its listed size, not read: check read 600 MiB
// of it first (1.3 GB of memory) to find it too large.
func TestCheckOversizedPack(t *testing.T) {
	r, _, _ := oneFileRepo(t)
	local, ok := r.store.(interface{ Location() string })
	if !ok {
		t.Skip("not a local store")
	}
	id := index.ID{0xab, 1}
	path := filepath.Join(local.Location(), filepath.FromSlash(packKey(id)))
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	must(t, f.Truncate(600<<20))
	must(t, f.Close())
	var res CheckResult
	allocated := bytesAllocated(func() { res, err = r.Check(t.Context(), CheckOptions{ReadData: true}) })
	if !errors.Is(err, ErrCheckFailed) || len(res.Problems) != 1 || !strings.Contains(res.Problems[0], "more than") {
		t.Errorf("check: %v, problems %q; want the pack reported too large", err, res.Problems)
	}
	if allocated > 64<<20 {
		t.Errorf("check allocated %d MiB", allocated>>20)
	}
}

// TestNewerPack: a pack of a newer format (its footer, its id matching
// its bytes) stops check, repair and prune, which called it damaged or
// unreferenced and deleted it; a pack whose footer only looks newer, its bytes not its id's, is
// damage as before.
func TestNewerPack(t *testing.T) {
	for _, where := range []string{"footer", "trailer"} {
		t.Run(where, func(t *testing.T) {
			r, _, _ := oneFileRepo(t)
			var data []byte
			for id := range hostileIDs(t, r.store, packPrefix) {
				b, err := r.readObject(t.Context(), packKey(id), id, maxPack)
				if err != nil {
					t.Fatal(err)
				}
				data = b
			}
			newer := newerPackBytes(t, r, data, where)
			id := objectID(newer)
			must(t, putBytes(t.Context(), r.store, packKey(id), newer))
			if _, err := r.Check(t.Context(), CheckOptions{ReadData: true}); !errors.Is(err, ErrNewerFormat) {
				t.Errorf("check --read-data: %v; want it stopped for the newer pack", err)
			}
			if _, err := r.Repair(t.Context(), RepairOptions{}); !errors.Is(err, ErrNewerFormat) {
				t.Errorf("repair: %v; want it refused", err)
			}
			if _, err := r.Prune(t.Context(), PruneOptions{}); !errors.Is(err, ErrNewerFormat) {
				t.Errorf("prune: %v; want it refused (it deleted the pack as unreferenced)", err)
			}
			if _, err := r.store.Stat(t.Context(), packKey(id)); err != nil {
				t.Errorf("the newer pack: %v", err)
			}
		})
	}
}

// newerPackBytes returns the pack data with the version digit of its
// footer's magic, or of its trailer's (compressed again), made 2.
func newerPackBytes(t *testing.T, r *Repo, data []byte, where string) []byte {
	t.Helper()
	if where == "footer" {
		newer := bytes.Clone(data)
		copy(newer[len(newer)-len(packMagic):], "WSNPACK2")
		return newer
	}
	foot := len(data) - packFooterLen
	tl := int(binary.LittleEndian.Uint32(data[foot:]))
	trailer, err := r.zstd.expand(data[foot-tl:foot], "pack trailer", maxPackTrailer)
	if err != nil {
		t.Fatal(err)
	}
	copy(trailer, "wimsnap pack 2\n")
	zt := r.zstd.compress(trailer)
	newer := append(bytes.Clone(data[:foot-tl]), zt...)
	newer = binary.LittleEndian.AppendUint32(newer, uint32(len(zt)))
	return append(newer, packMagic...)
}

// TestNewerIndexObject: an index object of a newer format is left out of
// the local index with a warning that says so, and commands go on: every
// command that synced failed. Prune refuses.
func TestNewerIndexObject(t *testing.T) {
	r, _, src := oneFileRepo(t)
	before := hostileIDs(t, r.store, indexPrefix)
	writeFiles(t, src, map[string]string{"b": "two"})
	snapshotOK(t, r, src, TakeOptions{})
	id := hostileNewID(t, before, hostileIDs(t, r.store, indexPrefix))
	b := indexObjectBytes(t, r, id)
	copy(b, "wimsnap index 2\n")
	nb := r.zstd.compress(b)
	must(t, putBytes(t.Context(), r.store, indexKey(objectID(nb)), nb))
	must(t, r.store.Delete(t.Context(), indexKey(id)))
	must(t, os.Remove(r.cache))
	fresh, warned := reopenWarned(t, r)
	if list, err := fresh.Snapshots(t.Context()); err != nil || len(list) != 2 {
		t.Errorf("snapshots: %d, %v", len(list), err)
	}
	if len(*warned) != 1 || !strings.Contains((*warned)[0], "newer wimsnap") {
		t.Errorf("warnings %q", *warned)
	}
	if _, err := fresh.Prune(t.Context(), PruneOptions{}); !errors.Is(err, ErrNewerFormat) {
		t.Errorf("prune: %v; want it refused", err)
	}
}

// TestNewerManifestByID: a snapshot of a newer format named by its id is
// not called damaged, with forget's removal advised, and forget passes it
// over rather than remove it; finding it says that a newer wimsnap wrote
// it (it said "no such snapshot").
func TestNewerManifestByID(t *testing.T) {
	r, _, newer := repoWithNewerManifest(t)
	id := objectID(newer)
	list, err := r.Snapshots(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.FindDamaged(t.Context(), hexID(id)[:8], list); got != "" || !errors.Is(err, ErrNewerFormat) {
		t.Errorf("FindDamaged named the newer manifest %s (%v)", got, err)
	}
	_, err = r.FindSnapshot(t.Context(), hexID(id)[:8])
	if err == nil || strings.Contains(err.Error(), "damaged") || !errors.Is(err, ErrNewerFormat) || !errors.Is(err, ErrSnapshotNotFound) ||
		!strings.HasPrefix(err.Error(), fmt.Sprintf("%q is snapshot %s: %v", hexID(id)[:8], hexID(id)[:8], ErrNewerFormat)) {
		t.Errorf("FindSnapshot: %v", err)
	}
}

// repoWithNewerManifest returns a repository with one snapshot, old, and
// beside it the same manifest as a newer format version would store it
// (version 2), under its own id.
func repoWithNewerManifest(t *testing.T) (r *Repo, old index.ID, newer []byte) {
	t.Helper()
	r, _, _ = oneFileRepo(t)
	_, old, b := oneManifest(t, r)
	newer = r.zstd.compress([]byte(strings.Replace(string(b), `"version":1,`, `"version":2,`, 1)))
	must(t, putBytes(t.Context(), r.store, snapKey(objectID(newer)), newer))
	return r, old, newer
}

// reopenWarned opens r's store again, as a command would, with its local
// index in r's cache directory, and returns the repository and the
// warnings it gives, as they come.
func reopenWarned(t *testing.T, r *Repo) (*Repo, *[]string) {
	t.Helper()
	var warned []string
	fresh, err := OpenRepo(t.Context(), r.store, RepoOptions{CacheDir: filepath.Dir(r.cache),
		Warn: func(err error) { warned = append(warned, err.Error()) }})
	if err != nil {
		t.Fatal(err)
	}
	return fresh, &warned
}

// indexObjectBytes returns the index object id of r, expanded.
func indexObjectBytes(t *testing.T, r *Repo, id index.ID) []byte {
	t.Helper()
	stored, err := r.readObject(t.Context(), indexKey(id), id, maxIndexObject)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.zstd.expand(stored, "index object", maxZstdObject)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// oneManifest returns the one snapshot of r, its id and its manifest's
// JSON as stored.
func oneManifest(t *testing.T, r *Repo) (*Manifest, index.ID, []byte) {
	t.Helper()
	list, err := r.Snapshots(t.Context())
	if err != nil || len(list) != 1 {
		t.Fatalf("snapshots: %d, %v", len(list), err)
	}
	id := objectIDFromHex(list[0].ID)
	_, stored, err := r.readManifest(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.zstd.expand(stored, "manifest", maxManifestJSON)
	if err != nil {
		t.Fatal(err)
	}
	return list[0], id, b
}

// oneFileRepo returns a repository holding one snapshot of src, a
// directory of one file in tmp, a test's own directory.
func oneFileRepo(t *testing.T) (r *Repo, tmp, src string) {
	t.Helper()
	tmp = t.TempDir()
	src = filepath.Join(tmp, "src")
	writeFiles(t, src, map[string]string{"a": "one"})
	r = testRepo(t, wim.CompressXPRESS)
	snapshotOK(t, r, src, TakeOptions{})
	return r, tmp, src
}
