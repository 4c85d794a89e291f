//go:build unix

package snapshot

import (
	"crypto/sha1"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// repairRepo is a local repository of three snapshots: snapshot i adds
// big<i>.bin (four chunks) and small<i>.txt (one chunk), each in the pack
// of its own snapshot.
type repairRepo struct {
	r     *Repo
	dir   string // the store's directory
	src   string
	snaps []*Manifest
	big   [][]byte
}

func makeRepairRepo(t *testing.T) *repairRepo {
	t.Helper()
	rr := emptyRepairRepo(t)
	for i := range 3 {
		rr.big = append(rr.big, wimtest.RandomBytes(uint64(40+i), 4*RepoChunkSize))
		writeFiles(t, rr.src, map[string]string{fmt.Sprintf("small%d.txt", i): fmt.Sprintf("small file %d\n", i),
			fmt.Sprintf("big%d.bin", i): string(rr.big[i])})
		rr.snaps = append(rr.snaps, snapshotOK(t, rr.r, rr.src, TakeOptions{}).Manifest)
	}
	return rr
}

// emptyRepairRepo returns a repairRepo with no snapshot yet, in a local
// store whose packs tests damage in place.
func emptyRepairRepo(t *testing.T) *repairRepo {
	t.Helper()
	tmp := t.TempDir()
	rr := &repairRepo{dir: filepath.Join(tmp, "repo"), src: filepath.Join(tmp, "src")}
	store, err := remote.NewLocal(rr.dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := InitRepo(t.Context(), store, wim.CompressNone); err != nil {
		t.Fatal(err)
	}
	if rr.r, err = OpenRepo(t.Context(), store, RepoOptions{CacheDir: filepath.Join(tmp, "cache")}); err != nil {
		t.Fatal(err)
	}
	return rr
}

// chunkPath returns the file of the pack holding chunk k of data, and
// the chunk's offset in it.
func (rr *repairRepo) chunkPath(t *testing.T, data []byte, k int) (string, int64) {
	t.Helper()
	return rr.streamChunkPath(t, index.SHA1(sha1.Sum(data)), k)
}

// streamChunkPath returns the file of the pack holding chunk k of stream
// h, and the chunk's offset in it.
func (rr *repairRepo) streamChunkPath(t *testing.T, h index.SHA1, k int) (string, int64) {
	t.Helper()
	db, err := rr.r.syncedIndex(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer closeIndex(db)
	rec, ok, err := db.Stream(h)
	if err != nil || !ok {
		t.Fatalf("stream: %v %v", ok, err)
	}
	l, ok, err := db.Chunk(rec.Chunks[k])
	if err != nil || !ok {
		t.Fatalf("chunk: %v %v", ok, err)
	}
	return filepath.Join(rr.dir, filepath.FromSlash(packKey(l.Pack))), int64(l.Offset)
}

// wantCheckNames runs check --read-data, which must fail naming each of
// the words.
func wantCheckNames(t *testing.T, r *Repo, words ...string) {
	t.Helper()
	res, err := r.Check(t.Context(), CheckOptions{ReadData: true})
	all := strings.Join(res.Problems, "\n") + "\n" + strings.Join(res.Damaged, " ")
	for _, w := range words {
		if err == nil || !strings.Contains(all, w) {
			t.Errorf("check (%v) does not name %q:\n%s", err, w, all)
		}
	}
}

// TestRepair: a flipped byte in a pack, a deleted pack, a deleted index
// object: check finds each and names the snapshots and files concerned;
// a dry run changes nothing; repair writes the damaged snapshots again
// without the lost files, which it names, and leaves a repository that
// checks, whose snapshots restore with everything else intact.
func TestRepair(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, rr *repairRepo)
		lost   []string // files lost, by snapshot 0..2; "(removed)": its image
		check  []string // what check must name besides the snapshots
	}{
		{"flipped byte", func(t *testing.T, rr *repairRepo) {
			t.Helper()
			path, off := rr.chunkPath(t, rr.big[1], 2)
			dmgFlip(t, path, off+100)
		}, []string{"", "/big1.bin", "/big1.bin"}, []string{"/big1.bin"}},
		{"deleted pack", func(t *testing.T, rr *repairRepo) {
			t.Helper()
			// The third snapshot's pack, which holds its image too: the
			// local cache still has the image (TestRepairImageFromCache).
			path, _ := rr.chunkPath(t, rr.big[2], 0)
			must(t, os.Remove(path))
		}, []string{"", "", "/big2.bin /small2.txt"}, []string{"is missing", "metadata"}},
		{"deleted index object", func(t *testing.T, rr *repairRepo) {
			t.Helper()
			rr.removeIndexObjectOf(t, rr.big[1]) // the second snapshot's own: it names big1.bin and small1.txt
			// Lost here too: the recipes would be taken from the local
			// index (TestRepairRecipesAfterSync).
			must(t, os.Remove(rr.r.cache))
		}, []string{"", "/big1.bin", "/big1.bin"}, []string{"/big1.bin", "in no index object"}}, // small1.txt is one chunk: rebuilt
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rr := makeRepairRepo(t)
			tc.damage(t, rr)
			names := slices.Clone(tc.check)
			for i, lost := range tc.lost {
				if lost != "" {
					names = append(names, rr.snaps[i].ShortID())
				}
			}
			wantCheckNames(t, rr.r, names...)

			dry, err := rr.r.Repair(t.Context(), RepairOptions{DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			wantCheckNames(t, rr.r, names...) // the dry run changed nothing
			before, err := listIDs(t.Context(), rr.r.store, packPrefix)
			if err != nil {
				t.Fatal(err)
			}
			res, err := rr.r.Repair(t.Context(), RepairOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("repair: %+v", res)
			after, err := listIDs(t.Context(), rr.r.store, packPrefix)
			if err != nil {
				t.Fatal(err)
			}
			written := 0 // packs_written counts the rewritten images' packs too
			for id := range after {
				if _, ok := before[id]; !ok {
					written++
				}
			}
			if res.SalvagedPacks != written {
				t.Errorf("repair says it wrote %d packs; %d are new", res.SalvagedPacks, written)
			}
			if len(dry.Snapshots) != len(res.Snapshots) {
				t.Errorf("dry run %+v, repair %+v", dry, res)
			}
			if res.LostStreams == 0 && strings.Contains(strings.Join(tc.lost, ""), "/") {
				t.Errorf("files were lost but no stream counted lost: %+v", res)
			}
			got := map[string]string{}
			newID := map[string]string{}
			for _, s := range res.Snapshots {
				got[s.ID], newID[s.ID] = strings.Join(s.LostFiles, " "), s.NewID
				if s.Removed {
					got[s.ID] = "(removed)"
				}
			}
			for i, lost := range tc.lost {
				if got[rr.snaps[i].ID] != lost {
					t.Errorf("snapshot %d lost %q, want %q", i, got[rr.snaps[i].ID], lost)
				}
			}
			checkOK(t, rr.r)
			again, err := rr.r.Repair(t.Context(), RepairOptions{})
			if err != nil || again.Damaged() {
				t.Errorf("second repair: %+v %v", again, err)
			}
			// The newest snapshot left restores whole but for what it lost.
			last := 2
			if tc.lost[last] == "(removed)" {
				last--
			}
			id := rr.snaps[last].ID
			if newID[id] != "" {
				id = newID[id]
			}
			m, err := rr.r.FindSnapshot(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if tc.lost[last] != "" && !slices.Contains(m.Tags, repairedTag) {
				t.Errorf("repaired snapshot tags %q", m.Tags)
			}
			if orig := rr.snaps[last].Summary; tc.lost[last] != "" &&
				(m.Summary.Files != orig.Files-int64(len(strings.Fields(tc.lost[last]))) || m.Summary.Bytes >= orig.Bytes) {
				t.Errorf("repaired snapshot counts %d files, %d bytes; the original %d, %d, and lost %q",
					m.Summary.Files, m.Summary.Bytes, orig.Files, orig.Bytes, tc.lost[last])
			}
			out := filepath.Join(t.TempDir(), "out")
			if _, err := rr.r.Restore(t.Context(), m, out, RestoreOptions{}); err != nil {
				t.Fatal(err)
			}
			var ignore []string
			for _, p := range strings.Fields(tc.lost[last]) {
				ignore = append(ignore, strings.TrimPrefix(p, "/"))
			}
			for i := last + 1; i < 3; i++ {
				ignore = append(ignore, fmt.Sprintf("big%d.bin", i), fmt.Sprintf("small%d.txt", i))
			}
			wimtest.CompareTrees(t, rr.src, out, wimtest.CompareOptions{IgnoreRoot: true, IgnorePaths: ignore})
		})
	}
}

// TestRepairDeltaOnLostBase: a file changed in one chunk is stored as a
// delta of its first version. With the first version's own chunk
// damaged, repair loses that version only: the second, whose chunks are
// all intact, resolves through the first's recipe and is written whole.
func TestRepairDeltaOnLostBase(t *testing.T) {
	rr := emptyRepairRepo(t)
	first := wimtest.RandomBytes(50, 4*RepoChunkSize)
	second := slices.Clone(first)
	copy(second[2*RepoChunkSize:], "changed")
	for _, data := range [][]byte{first, second} {
		writeFiles(t, rr.src, map[string]string{"big.bin": string(data)})
		rr.snaps = append(rr.snaps, snapshotOK(t, rr.r, rr.src, TakeOptions{}).Manifest)
	}
	if s := indexRecipes(t, rr.r)[index.SHA1(sha1.Sum(second))]; !s.delta {
		t.Fatal("the second version is not stored as a delta")
	}
	path, off := rr.chunkPath(t, first, 2)
	dmgFlip(t, path, off+100)

	res, err := rr.r.Repair(t.Context(), RepairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("repair: %+v", res)
	if len(res.Snapshots) != 1 || res.Snapshots[0].ID != rr.snaps[0].ID || strings.Join(res.Snapshots[0].LostFiles, " ") != "/big.bin" {
		t.Errorf("repaired %+v, want the first snapshot, without /big.bin", res.Snapshots)
	}
	checkOK(t, rr.r)
	if s := indexRecipes(t, rr.r)[index.SHA1(sha1.Sum(second))]; s.delta || len(s.chunks) != 4 {
		t.Errorf("the second version's recipe: delta %v, %d chunks", s.delta, len(s.chunks))
	}
	out := filepath.Join(t.TempDir(), "out")
	if _, err := rr.r.Restore(t.Context(), rr.snaps[1], out, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	wimtest.CompareTrees(t, rr.src, out, wimtest.CompareOptions{})
}

// indexRecipes returns the recipes r's index objects hold, by stream.
func indexRecipes(t *testing.T, r *Repo) map[index.SHA1]indexStream {
	t.Helper()
	ids, err := listIDs(t.Context(), r.store, indexPrefix)
	if err != nil {
		t.Fatal(err)
	}
	found := map[index.SHA1]indexStream{}
	for id := range ids {
		o, err := r.readIndexObject(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range o.streams {
			found[s.hash] = s
		}
	}
	return found
}

// TestRepairRecipesFromLocalIndex: with an index object lost and repair
// the first command run after it, the recipes of the files larger than a
// chunk that it named are taken from the local index, whose chunks are
// all intact: nothing is lost. They were lost (files over 32 KiB).
func TestRepairRecipesFromLocalIndex(t *testing.T) {
	rr := makeRepairRepo(t)
	rr.removeIndexObjectOf(t, rr.big[1])
	res, err := rr.r.Repair(t.Context(), RepairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Snapshots) != 0 || res.LostStreams != 0 || res.Recipes == 0 {
		t.Fatalf("repair: %+v; want the lost recipes taken from the local index, nothing lost", res)
	}
	checkOK(t, rr.r)
	must(t, os.Remove(rr.r.cache)) // what follows reads the repository's new index
	out := filepath.Join(t.TempDir(), "out")
	if _, err := rr.r.Restore(t.Context(), rr.snaps[2], out, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	wimtest.CompareTrees(t, rr.src, out, wimtest.CompareOptions{IgnoreRoot: true})
}

// TestRepairRecipesAfterSync: with an index object lost and a command run
// before repair (its sync starts the local index again, as a prune's
// replaced object would have it), the recipes of the files larger than a
// chunk are taken from those the sync dropped: nothing is lost. They were
// lost, their chunks all intact.
func TestRepairRecipesAfterSync(t *testing.T) {
	for _, first := range []string{"snapshots", "restore"} {
		t.Run(first, func(t *testing.T) { testRepairRecipesAfter(t, first) })
	}
}

// testRepairRecipesAfter is TestRepairRecipesAfterSync with the command
// first run after the loss: snapshots (a sync), or a restore of a
// snapshot whose data the lost object named (a sync, then a rebuild from
// scratch when it misses the data, which took the recipes the sync kept).
func testRepairRecipesAfter(t *testing.T, first string) {
	t.Helper()
	rr := makeRepairRepo(t)
	rr.removeIndexObjectOf(t, rr.big[1])
	switch first {
	case "snapshots":
		if _, err := rr.r.Snapshots(t.Context()); err != nil {
			t.Fatal(err)
		}
	case "restore":
		if _, err := rr.r.Restore(t.Context(), rr.snaps[2], filepath.Join(t.TempDir(), "lost"), RestoreOptions{}); err == nil {
			t.Fatal("the restore of a snapshot whose data an index object lost did not fail")
		}
	}
	res, err := rr.r.Repair(t.Context(), RepairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Snapshots) != 0 || res.LostStreams != 0 || res.Recipes == 0 {
		t.Fatalf("repair: %+v; want the lost recipes taken from those the sync dropped, nothing lost", res)
	}
	checkOK(t, rr.r)
	must(t, os.Remove(rr.r.cache))
	out := filepath.Join(t.TempDir(), "out")
	if _, err := rr.r.Restore(t.Context(), rr.snaps[2], out, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	wimtest.CompareTrees(t, rr.src, out, wimtest.CompareOptions{IgnoreRoot: true})
}

// removeIndexObjectOf deletes the index object that names the stream of
// data.
func (rr *repairRepo) removeIndexObjectOf(t *testing.T, data []byte) {
	t.Helper()
	ids, err := listIDs(t.Context(), rr.r.store, indexPrefix)
	if err != nil {
		t.Fatal(err)
	}
	for id := range ids {
		o, err := rr.r.readIndexObject(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(o.streams, func(s indexStream) bool { return s.hash == index.SHA1(sha1.Sum(data)) }) {
			must(t, os.Remove(filepath.Join(rr.dir, filepath.FromSlash(indexKey(id)))))
		}
	}
}

// TestRepairOneChunkRecipes: an index object lost with the recipes of
// streams of one chunk alone is repaired from the packs (the chunks found
// again by their SHA-1): repair said "no damage found", wrote nothing,
// and check and prune stayed failing for good.
func TestRepairOneChunkRecipes(t *testing.T) {
	rr := emptyRepairRepo(t)
	writeFiles(t, rr.src, map[string]string{"a": "one"})
	snapshotOK(t, rr.r, rr.src, TakeOptions{})
	writeFiles(t, rr.src, map[string]string{"b": "two"})
	second := snapshotOK(t, rr.r, rr.src, TakeOptions{}).Manifest
	rr.removeIndexObjectOf(t, []byte("two"))
	if res, _ := rr.r.Check(t.Context(), CheckOptions{}); len(res.Problems) == 0 {
		t.Fatalf("check after the loss: %+v; want problems", res)
	}
	res, err := rr.r.Repair(t.Context(), RepairOptions{})
	if err != nil || res.Rebuilt == 0 || res.IndexWritten == 0 || len(res.Snapshots) != 0 {
		t.Fatalf("repair: %+v, %v; want the recipes made again from the chunks, nothing lost", res, err)
	}
	checkOK(t, rr.r)
	again, err := rr.r.Repair(t.Context(), RepairOptions{})
	if err != nil || again.Damaged() {
		t.Errorf("a second repair: %+v, %v; want no damage", again, err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if _, err := rr.r.Restore(t.Context(), second, out, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	wimtest.CompareTrees(t, rr.src, out, wimtest.CompareOptions{IgnoreRoot: true})
}
