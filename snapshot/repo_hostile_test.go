//go:build unix

package snapshot

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// hostileRepo is a repository of two snapshots laid out so that damage can
// be aimed. Snapshot 0 is of src[0]: the test tree, shared.bin and
// only0.bin; snapshot 1 of src[1]: the same tree, shared.bin and
// only1.bin. Each snapshot added one pack and one index object; pack 1
// holds only what snapshot 1 added (only1.bin, its metadata), so snapshot 1
// uses both packs and snapshot 0 only pack 0.
type hostileRepo struct {
	repoDir, cacheDir string
	src               [2]string
	snaps             [2]*Manifest
	packs             [2]index.ID
	idx               [2]index.ID
	// shared is a chunk of shared.bin, only0 one of only0.bin; both lie in
	// pack 0.
	shared, only0 index.Location
	chunks        int // in the local index
}

const hostileFileSize = 3*RepoChunkSize + 1234

func hostileFile(seed uint64) []byte { return wimtest.RandomBytes(seed, hostileFileSize) }

// makeHostileRepo builds the repository and, with checkClean, checks
// that Check finds it whole.
func makeHostileRepo(t *testing.T, checkClean bool) *hostileRepo {
	t.Helper()
	r := testRepo(t, wim.CompressXPRESS)
	h := &hostileRepo{repoDir: r.store.Location(), cacheDir: filepath.Dir(r.IndexPath())}
	for i := range h.src {
		h.src[i] = filepath.Join(t.TempDir(), "src")
		wimtest.MakeTree(t, h.src[i], wimtest.TreeOptions{})
		hostileWrite(t, filepath.Join(h.src[i], "shared.bin"), hostileFile(100))
		hostileWrite(t, filepath.Join(h.src[i], fmt.Sprintf("only%d.bin", i)), hostileFile(101+uint64(i)))
		packs := hostileIDs(t, r.store, packPrefix)
		indexes := hostileIDs(t, r.store, indexPrefix)
		h.snaps[i] = snapshotOK(t, r, h.src[i], TakeOptions{}).Manifest
		h.packs[i] = hostileNewID(t, packs, hostileIDs(t, r.store, packPrefix))
		h.idx[i] = hostileNewID(t, indexes, hostileIDs(t, r.store, indexPrefix))
	}
	db, err := r.openIndex(true)
	if err != nil {
		t.Fatal(err)
	}
	chunkOf := func(data []byte, n int) index.Location {
		t.Helper()
		rec, ok, err := db.Stream(index.SHA1(sha1.Sum(data)))
		if err != nil || !ok || len(rec.Chunks) <= n {
			t.Fatalf("stream of %d bytes: %+v, %v, %v", len(data), rec, ok, err)
		}
		l, ok, err := db.Chunk(rec.Chunks[n])
		if err != nil || !ok {
			t.Fatalf("chunk: %v, %v", ok, err)
		}
		return l
	}
	h.shared, h.only0 = chunkOf(hostileFile(100), 1), chunkOf(hostileFile(101), 1)
	for _, l := range []index.Location{h.shared, h.only0} {
		if l.Pack != h.packs[0] || l.Stored != RepoChunkSize {
			t.Fatalf("chunk %+v: not a raw chunk of pack 0 %x", l, h.packs[0])
		}
	}
	if l := chunkOf(hostileFile(102), 0); l.Pack != h.packs[1] {
		t.Fatalf("only1.bin is in pack %x, not in pack 1 %x", l.Pack, h.packs[1])
	}
	if err := db.ForEachChunk(func(index.ID, index.Location) error { h.chunks++; return nil }); err != nil {
		t.Fatal(err)
	}
	closeIndex(db) // Check writes to the index
	if checkClean {
		res, err := r.Check(t.Context(), CheckOptions{ReadData: true})
		if err != nil || res.Snapshots != 2 || res.Packs != 2 || len(res.Damaged) != 0 {
			t.Fatalf("the undamaged repository does not check clean: %+v: %v", res, err)
		}
	}
	return h
}

func hostileWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func hostileIDs(t *testing.T, s remote.Store, prefix string) map[index.ID]int64 {
	t.Helper()
	ids, err := listIDs(t.Context(), s, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// hostileNewID returns the one id of after that before lacks.
func hostileNewID(t *testing.T, before, after map[index.ID]int64) index.ID {
	t.Helper()
	var found []index.ID
	for id := range after {
		if _, ok := before[id]; !ok {
			found = append(found, id)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d new objects, want 1", len(found))
	}
	return found[0]
}

// open copies the repository, and with warm its local index, and opens the
// copy; the local index of a cold copy is built from the repository.
func (h *hostileRepo) open(t *testing.T, warm bool) (*Repo, string) {
	t.Helper()
	dir := t.TempDir()
	repoDir, cacheDir := filepath.Join(dir, "repo"), filepath.Join(dir, "cache")
	if err := os.CopyFS(repoDir, os.DirFS(h.repoDir)); err != nil {
		t.Fatal(err)
	}
	if warm {
		if err := os.CopyFS(cacheDir, os.DirFS(h.cacheDir)); err != nil {
			t.Fatal(err)
		}
	}
	store, err := remote.NewLocal(repoDir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	return r, repoDir
}

func repoObjPath(repoDir, key string) string { return filepath.Join(repoDir, filepath.FromSlash(key)) }

func dmgFlip(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += int64(len(b))
	}
	b[off] ^= 0x20
	hostileWrite(t, path, b)
}

func dmgTruncate(t *testing.T, path string, size func(int64) int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, size(fi.Size())); err != nil {
		t.Fatal(err)
	}
}

func dmgRemove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// damageError reports whether err says that repository data is damaged or
// missing.
func damageError(err error) bool {
	return errors.Is(err, ErrRepoFormat) || errors.Is(err, wim.ErrNotFound) || errors.Is(err, remote.ErrNotFound) ||
		errors.Is(err, remote.ErrRange) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrSnapshotNotFound)
}

// restorable restores snapshot i of r as the user would (found by id) and
// reports whether it came back whole. A restore that fails must say why
// and must leave no file with contents that are not the snapshot's; one
// that succeeds must match the source tree.
func (h *hostileRepo) restorable(t *testing.T, r *Repo, i int) bool {
	t.Helper()
	m, err := r.FindSnapshot(t.Context(), h.snaps[i].ID)
	if err != nil {
		if !errors.Is(err, ErrSnapshotNotFound) {
			t.Errorf("finding snapshot %d: %v", i, err)
		}
		return false
	}
	out := filepath.Join(t.TempDir(), "out")
	var warned []string
	st, err := r.Restore(t.Context(), m, out, RestoreOptions{Apply: ApplyOptions{Warn: func(p string, err error) {
		if !damageError(err) {
			t.Errorf("restore of snapshot %d: %s: %v, not an error of damaged data", i, p, err)
		}
		warned = append(warned, strings.TrimPrefix(p, out+"/"))
	}}})
	if err != nil {
		if !damageError(err) {
			t.Errorf("restore of snapshot %d: %v, not an error of damaged data", i, err)
		}
		return false
	}
	if st.Skipped == 0 && len(warned) == 0 {
		wimtest.CompareTrees(t, h.src[i], out, wimtest.CompareOptions{}) // no silently wrong data
		return true
	}
	warned = withHardLinks(t, h.src[i], warned)
	for _, rel := range warned {
		got, err := os.ReadFile(filepath.Join(out, rel))
		if err != nil {
			continue
		}
		want, err := os.ReadFile(filepath.Join(h.src[i], rel))
		if err != nil || !bytes.HasPrefix(want, got) {
			t.Errorf("restore of snapshot %d skipped %s with a warning but left it with %d bytes that are not its contents",
				i, rel, len(got))
		}
	}
	wimtest.CompareTrees(t, h.src[i], out, wimtest.CompareOptions{IgnorePaths: warned})
	return false
}

// withHardLinks adds to the paths below dir the other names of their files.
func withHardLinks(t *testing.T, dir string, paths []string) []string {
	t.Helper()
	out := slices.Clone(paths)
	for _, p := range paths {
		fi, err := os.Lstat(filepath.Join(dir, p))
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		err = filepath.WalkDir(dir, func(q string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			rel, _ := filepath.Rel(dir, q)
			if qi, err := os.Lstat(q); err == nil && os.SameFile(fi, qi) && !slices.Contains(out, rel) {
				out = append(out, rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// firstLines joins the first lines of list.
func firstLines(list []string) string {
	const limit = 10
	if len(list) > limit {
		return strings.Join(list[:limit], "\n") + fmt.Sprintf("\n... and %d more", len(list)-limit)
	}
	return strings.Join(list, "\n")
}

// checkWant is what one Check must find.
type checkWant struct {
	fail bool
	// damaged are the snapshots CheckResult.Damaged must name, exactly;
	// anyDamaged leaves them unchecked.
	damaged    []int
	anyDamaged bool
}

func (h *hostileRepo) check(t *testing.T, r *Repo, opts CheckOptions, want checkWant, mention []string) {
	t.Helper()
	res, err := r.Check(t.Context(), opts)
	what := fmt.Sprintf("check (read data %v)", opts.ReadData)
	switch {
	case want.fail && !errors.Is(err, ErrCheckFailed):
		t.Errorf("%s: error %v, want ErrCheckFailed; result %+v", what, err, res)
		return
	case !want.fail && err != nil:
		t.Errorf("%s: %v; problems:\n%s", what, err, firstLines(res.Problems))
		return
	}
	problems := firstLines(res.Problems)
	if want.fail {
		for _, s := range mention {
			if !strings.Contains(strings.Join(res.Problems, "\n"), s) {
				t.Errorf("%s: no problem names %s; problems:\n%s", what, s, problems)
			}
		}
	}
	if want.anyDamaged {
		return
	}
	var ids []string
	for _, i := range want.damaged {
		ids = append(ids, h.snaps[i].ID)
	}
	got := slices.Sorted(slices.Values(res.Damaged))
	if slices.Sort(ids); !slices.Equal(got, ids) {
		t.Errorf("%s: damaged snapshots %v, want %v (snapshot 0 %s, 1 %s); problems:\n%s",
			what, got, ids, h.snaps[0].ShortID(), h.snaps[1].ShortID(), problems)
	}
}

// TestRepoHostileObjects damages one repository object per case and checks
// what Sync, Check and Restore make of it. The restores are the truth:
// Check must name as damaged exactly the snapshots that do not restore
// (with ReadData; without, it sees only missing objects and chunks).
func TestRepoHostileObjects(t *testing.T) {
	t.Parallel()
	h := makeHostileRepo(t, true)
	tests := []struct {
		name string
		// cold copies no local index: it is built from the damaged
		// repository.
		cold         bool
		damage       func(t *testing.T, repoDir string)
		mention      []string // what the problems name
		unrestorable []int
		check        checkWant // without ReadData
		checkData    checkWant // with ReadData
		// syncDamaged is SyncStats.Damaged of the first Sync.
		syncDamaged int
		after       func(t *testing.T, r *Repo)
	}{{
		// The cut takes the trailer's end only: every chunk is still
		// there and every snapshot restores.
		name: "pack truncated by 100 bytes",
		damage: func(t *testing.T, repoDir string) {
			t.Helper()

			p := repoObjPath(repoDir, packKey(h.packs[0]))
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if tl := binary.LittleEndian.Uint32(data[len(data)-packFooterLen:]); tl+uint32(packFooterLen) <= 100 {
				t.Fatalf("the trailer takes %d bytes: the cut reaches the chunks", tl)
			}
			dmgTruncate(t, p, func(n int64) int64 { return n - 100 })
		},
		mention:   []string{hexID(h.packs[0])},
		checkData: checkWant{fail: true},
	}, {
		name: "pack truncated into its chunks",
		damage: func(t *testing.T, repoDir string) {
			t.Helper()
			dmgTruncate(t, repoObjPath(repoDir, packKey(h.packs[0])), dmgHalf)
		},
		mention:      []string{"pack " + hexID(h.packs[0]) + " is truncated"},
		unrestorable: []int{0, 1},
		check:        checkWant{fail: true, damaged: []int{0, 1}},
		checkData:    checkWant{fail: true, damaged: []int{0, 1}},
	}, {
		name: "byte flipped in a chunk both snapshots use",
		damage: func(t *testing.T, repoDir string) {
			t.Helper()

			dmgFlip(t, repoObjPath(repoDir, packKey(h.packs[0])), int64(h.shared.Offset)+1000)
		},
		mention:      []string{hexID(h.packs[0])},
		unrestorable: []int{0, 1},
		checkData:    checkWant{fail: true, damaged: []int{0, 1}},
	}, {
		name: "byte flipped in a chunk only snapshot 0 uses",
		damage: func(t *testing.T, repoDir string) {
			t.Helper()

			dmgFlip(t, repoObjPath(repoDir, packKey(h.packs[0])), int64(h.only0.Offset)+1000)
		},
		mention:      []string{hexID(h.packs[0])},
		unrestorable: []int{0},
		checkData:    checkWant{fail: true, damaged: []int{0}},
	}, {
		name: "pack deleted",
		damage: func(t *testing.T, repoDir string) {
			t.Helper()
			dmgRemove(t, repoObjPath(repoDir, packKey(h.packs[1])))
		},
		mention:      []string{"pack " + hexID(h.packs[1]) + " is missing"},
		unrestorable: []int{1},
		check:        checkWant{fail: true, damaged: []int{1}},
		checkData:    checkWant{fail: true, damaged: []int{1}},
	}, {
		name: "index object deleted",
		damage: func(t *testing.T, repoDir string) {
			t.Helper()
			dmgRemove(t, repoObjPath(repoDir, indexKey(h.idx[1])))
		},
		mention:      []string{"snapshot " + h.snaps[1].ShortID()},
		unrestorable: []int{1},
		check:        checkWant{fail: true, damaged: []int{1}},
		checkData:    checkWant{fail: true, damaged: []int{1}},
	}, {
		name: "index object byte flipped, cold index",
		cold: true,
		damage: func(t *testing.T, repoDir string) {
			t.Helper()
			dmgFlip(t, repoObjPath(repoDir, indexKey(h.idx[1])), -20)
		},
		mention:      []string{indexKey(h.idx[1])},
		unrestorable: []int{1},
		check:        checkWant{fail: true, damaged: []int{1}},
		checkData:    checkWant{fail: true, damaged: []int{1}},
		syncDamaged:  1,
	}, {
		// The local index read the object before the damage, so
		// restores work; Check must still find that the repository's
		// object does not read ("every index object ... reads and
		// parses").
		name: "index object byte flipped, warm index",
		damage: func(t *testing.T, repoDir string) {
			t.Helper()
			dmgFlip(t, repoObjPath(repoDir, indexKey(h.idx[1])), -20)
		},
		mention:   []string{indexKey(h.idx[1])},
		check:     checkWant{fail: true, anyDamaged: true},
		checkData: checkWant{fail: true, anyDamaged: true},
	}, {
		name: "manifest byte flipped, cold index",
		cold: true,
		damage: func(t *testing.T, repoDir string) {
			t.Helper()

			dmgFlip(t, repoObjPath(repoDir, snapKey(manifestID(t, h.snaps[1]))), 10)
		},
		mention:      []string{h.snaps[1].ID},
		unrestorable: []int{1},
		check:        checkWant{fail: true, damaged: []int{1}},
		checkData:    checkWant{fail: true, damaged: []int{1}},
		syncDamaged:  1,
		after: func(t *testing.T, r *Repo) {
			t.Helper()

			list, err := r.Snapshots(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 || list[0].ID != h.snaps[0].ID {
				t.Errorf("Snapshots lists %d snapshots, want only snapshot 0", len(list))
			}
		},
	}, {
		name: "manifest byte flipped, warm index",
		damage: func(t *testing.T, repoDir string) {
			t.Helper()

			dmgFlip(t, repoObjPath(repoDir, snapKey(manifestID(t, h.snaps[1]))), 10)
		},
		mention:   []string{h.snaps[1].ID},
		check:     checkWant{fail: true, anyDamaged: true},
		checkData: checkWant{fail: true, anyDamaged: true},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, repoDir := h.open(t, !tc.cold)
			tc.damage(t, repoDir)
			var warns []error
			st, err := r.Sync(t.Context(), func(err error) { warns = append(warns, err) })
			if err != nil {
				t.Fatalf("sync: %v", err)
			}
			if st.Damaged != tc.syncDamaged || len(warns) != tc.syncDamaged {
				t.Errorf("sync: %d damaged, warnings %v; want %d", st.Damaged, warns, tc.syncDamaged)
			}
			for _, w := range warns {
				if !errors.Is(w, ErrRepoFormat) || !strings.Contains(w.Error(), tc.mention[0]) {
					t.Errorf("sync warning %q: not ErrRepoFormat naming %s", w, tc.mention[0])
				}
			}
			h.check(t, r, CheckOptions{}, tc.check, tc.mention)
			h.check(t, r, CheckOptions{ReadData: true}, tc.checkData, tc.mention)
			var unrestorable []int
			for i := range h.snaps {
				if !h.restorable(t, r, i) {
					unrestorable = append(unrestorable, i)
				}
			}
			if !slices.Equal(unrestorable, tc.unrestorable) {
				t.Errorf("snapshots %v do not restore, want %v", unrestorable, tc.unrestorable)
			}
			if tc.after != nil {
				tc.after(t, r)
			}
		})
	}
}

func dmgHalf(n int64) int64 { return n / 2 }

func manifestID(t *testing.T, m *Manifest) index.ID {
	t.Helper()
	id, ok := parseID(m.ID)
	if !ok {
		t.Fatalf("manifest id %q", m.ID)
	}
	return id
}

// TestRepoHostileLocalIndex damages the local index only: every command
// must rebuild it from the repository, and then check and restore as
// before.
func TestRepoHostileLocalIndex(t *testing.T) {
	t.Parallel()
	h := makeHostileRepo(t, true)
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
		// reasons are the SyncStats.Reason that may say why the index
		// was rebuilt; none when the damage may go unseen (the cut may
		// take only free pages).
		reasons []string
	}{
		{"deleted", func(t *testing.T, p string) {
			t.Helper()
			dmgRemove(t, p)
		}, []string{"missing"}},
		{"overwritten with garbage", func(t *testing.T, p string) {
			t.Helper()

			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			hostileWrite(t, p, wimtest.RandomBytes(5, int(fi.Size())))
		}, []string{"corrupt"}},
		{"truncated to half", func(t *testing.T, p string) {
			t.Helper()
			dmgTruncate(t, p, dmgHalf)
		}, nil},
		{"empty", func(t *testing.T, p string) {
			t.Helper()
			dmgTruncate(t, p, func(int64) int64 { return 0 })
		}, []string{"missing", "corrupt"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Check alone copes with the damage.
			r, _ := h.open(t, true)
			tc.damage(t, r.IndexPath())
			h.check(t, r, CheckOptions{}, checkWant{}, nil)

			r, _ = h.open(t, true)
			tc.damage(t, r.IndexPath())
			var warns []error
			st, err := r.Sync(t.Context(), func(err error) { warns = append(warns, err) })
			if err != nil {
				t.Fatalf("sync: %v", err)
			}
			if tc.reasons != nil && (!st.Rebuilt || !slices.Contains(tc.reasons, st.Reason)) {
				t.Errorf("sync: %+v, want rebuilt (%s)", st, strings.Join(tc.reasons, " or "))
			}
			if st.Rebuilt && (st.Indexes != 2 || st.Snapshots != 2) {
				t.Errorf("rebuild read %d index objects and %d manifests, want 2 and 2", st.Indexes, st.Snapshots)
			}
			t.Logf("sync %+v, warnings %v", st, warns)
			h.check(t, r, CheckOptions{ReadData: true}, checkWant{}, nil)
			for i := range h.snaps {
				if !h.restorable(t, r, i) {
					t.Errorf("snapshot %d does not restore", i)
				}
			}
		})
	}
}

// indexChildEnv names the environment variable that makes a test binary
// run damagedIndexChild.
const indexChildEnv = "WIMSNAP_DAMAGED_INDEX"

// TestRepoHostileIndexTruncated cuts the local index file at every page
// and runs a Sync on each in a child process: a file cut short must be
// rebuilt or still read whole, never crash the process (bbolt maps the
// file, and a page past its end faults).
func TestRepoHostileIndexTruncated(t *testing.T) {
	if env := os.Getenv(indexChildEnv); env != "" {
		damagedIndexChild(t, env)
		return
	}
	t.Parallel()
	probeIndexPages(t, "TestRepoHostileIndexTruncated", "cut at", func(t *testing.T, path string, off int64) {
		t.Helper()

		dmgTruncate(t, path, func(int64) int64 { return off })
	})
}

// TestRepoHostileIndexZeroedPage zeroes one page of the local index file
// at a time: a file whose damage bbolt notices only when it reads the
// page must be rebuilt too, and never crash the process.
func TestRepoHostileIndexZeroedPage(t *testing.T) {
	if env := os.Getenv(indexChildEnv); env != "" {
		damagedIndexChild(t, env)
		return
	}
	t.Parallel()
	probeIndexPages(t, "TestRepoHostileIndexZeroedPage", "zeroed at", func(t *testing.T, path string, off int64) {
		t.Helper()

		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = f.Close() }()
		if _, err := f.WriteAt(make([]byte, indexPage), off); err != nil {
			t.Fatal(err)
		}
	})
}

const indexPage = 4096

// probeIndexPages damages a copy of the local index at each page from the
// third on and runs test (this test's name) in a child process on it.
func probeIndexPages(t *testing.T, test, what string, damage func(t *testing.T, path string, off int64)) {
	t.Helper()
	h := makeHostileRepo(t, false)
	r, _ := h.open(t, true)
	fi, err := os.Stat(r.IndexPath())
	if err != nil {
		t.Fatal(err)
	}
	var failed []int64
	var first []byte
	for off := int64(2 * indexPage); off < fi.Size(); off += indexPage {
		cache := filepath.Join(t.TempDir(), "cache")
		if err := os.CopyFS(cache, os.DirFS(filepath.Dir(r.IndexPath()))); err != nil {
			t.Fatal(err)
		}
		damage(t, filepath.Join(cache, filepath.Base(r.IndexPath())), off)
		env := fmt.Sprintf("%s\n%s\n%d\n%s\n%s", r.store.Location(), cache, h.chunks, h.snaps[0].ID, h.snaps[1].ID)
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
		cmd.Env = append(os.Environ(), indexChildEnv+"="+env)
		if out, err := cmd.CombinedOutput(); err != nil {
			failed = append(failed, off)
			if first == nil {
				first = append(fmt.Appendf(nil, "%s %d: %v\n", what, off, err), out...)
			}
		}
	}
	if len(failed) > 0 {
		if len(first) > 4000 {
			first = first[:4000]
		}
		t.Errorf("the index file of %d bytes %s %v: the child process failed; the first:\n%s", fi.Size(), what, failed, first)
	}
}

// damagedIndexChild syncs the repository described by env with its
// damaged index and checks that the index is whole afterwards.
func damagedIndexChild(t *testing.T, env string) {
	t.Helper()
	var repoDir, cacheDir string
	var chunks int
	var ids [2]string
	if _, err := fmt.Sscan(env, &repoDir, &cacheDir, &chunks, &ids[0], &ids[1]); err != nil {
		t.Fatal(err)
	}
	store, err := remote.NewLocal(repoDir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Sync(t.Context(), nil)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	list, err := r.Snapshots(t.Context())
	if err != nil || len(list) != 2 || list[0].ID != ids[0] || list[1].ID != ids[1] {
		t.Fatalf("snapshots after sync %+v: %d, %v", st, len(list), err)
	}
	// A page damaged where opening does not look is found on first use:
	// the command rebuilds the index and runs again.
	res, err := r.Check(t.Context(), CheckOptions{ReadData: true})
	if err != nil || res.Chunks != chunks {
		t.Fatalf("check after sync %+v: %+v: %v", st, res, err)
	}
	for _, m := range list {
		if _, err := r.Metadata(t.Context(), m); err != nil {
			t.Fatalf("after sync %+v: %v", st, err)
		}
	}
}

// TestRepoHostileConfig opens repositories whose config is damaged or
// hostile.
func TestRepoHostileConfig(t *testing.T) {

	id := strings.Repeat("0123456789abcdef", 4)
	cfg := func(version int, id string, chunk int, codec string) []byte {
		return fmt.Appendf(nil, `{"version":%d,"id":%q,"chunk_size":%d,"codec":%q,"created":"2025-01-01T00:00:00Z"}`,
			version, id, chunk, codec)
	}
	withLevel := func(config []byte, level string) []byte { // the field as given, any JSON value
		return fmt.Appendf(nil, `%s,"level":%s}`, config[:len(config)-1], level)
	}
	// escape is 64 characters that name a file beside the cache
	// directory: cache/<id>.db is ../victim.db.
	escape := "../" + strings.Repeat("./", 27) + "/victim"
	tests := []struct {
		name   string
		config []byte // nil: no config object
		want   error  // nil: the config opens
		what   string // what the error must name
	}{
		{"valid", cfg(1, id, RepoChunkSize, "xpress"), nil, ""},
		{"missing", nil, ErrNoRepository, ""},
		{"garbage", wimtest.RandomBytes(3, 200), ErrRepoFormat, "config"},
		{"empty", []byte{}, ErrRepoFormat, "config"},
		{"truncated", cfg(1, id, RepoChunkSize, "xpress")[:50], ErrRepoFormat, "config"},
		{"null", []byte("null"), ErrRepoFormat, "config"},
		{"array", []byte("[1,2]"), ErrRepoFormat, "config"},
		{"newer version", cfg(2, id, RepoChunkSize, "xpress"), ErrNewerFormat, "config: format 2; this wimsnap reads 1): upgrade wimsnap"},
		{"version 0", cfg(0, id, RepoChunkSize, "xpress"), ErrRepoFormat, "config: format version 0"},
		{"chunk size", cfg(1, id, 65536, "xpress"), ErrRepoFormat, "config: chunk size 65536"},
		{"LZMS codec", cfg(1, id, RepoChunkSize, "lzms"), ErrRepoFormat, "config: codec"},
		{"unknown codec", cfg(1, id, RepoChunkSize, "zip"), ErrRepoFormat, "config: codec"},
		{"short id", cfg(1, id[:63], RepoChunkSize, "xpress"), ErrRepoFormat, "config: id"},
		{"id not hexadecimal", cfg(1, strings.Repeat("g", 64), RepoChunkSize, "xpress"), ErrRepoFormat, "config: id"},
		{"id with a path", cfg(1, escape, RepoChunkSize, "xpress"), ErrRepoFormat, "config: id"},
		{"too large", append(cfg(1, id, RepoChunkSize, "xpress"), bytes.Repeat([]byte(" "), maxConfigLen)...), remote.ErrTooLarge, "config"},
		{"level", withLevel(cfg(1, id, RepoChunkSize, "xpress"), "80"), nil, ""},
		{"negative level", withLevel(cfg(1, id, RepoChunkSize, "xpress"), "-1"), ErrRepoFormat, "config: compression level -1"},
		{"level not a number", withLevel(cfg(1, id, RepoChunkSize, "xpress"), `"high"`), ErrRepoFormat, "config"},
		{"level out of range", withLevel(cfg(1, id, RepoChunkSize, "xpress"), "1e30"), ErrRepoFormat, "config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			store, err := remote.NewLocal(filepath.Join(dir, "repo"))
			if err != nil {
				t.Fatal(err)
			}
			if tc.config != nil {
				hostileWrite(t, filepath.Join(dir, "repo", configKey), tc.config)
			}
			victim := filepath.Join(dir, "victim.db")
			hostileWrite(t, victim, []byte("not an index"))
			cache := filepath.Join(dir, "cache")
			r, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: cache})
			if err == nil {
				if tc.want != nil {
					t.Errorf("config accepted: %+v", r.Config())
				}
				if p := r.IndexPath(); filepath.Dir(p) != cache {
					t.Errorf("the local index %s is outside the cache directory %s", p, cache)
				}
				if _, err := r.Sync(t.Context(), nil); err != nil && tc.want == nil {
					t.Errorf("sync: %v", err)
				}
				if b, err := os.ReadFile(victim); err != nil || string(b) != "not an index" {
					t.Errorf("a sync of the repository replaced %s, outside the cache directory: %v", victim, err)
				}
				return
			}
			if tc.want == nil || !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.what) {
				t.Errorf("error %v, want %v naming %q", err, tc.want, tc.what)
			}
		})
	}
	t.Run("damaged repository config", func(t *testing.T) {
		// A real repository whose config is replaced by garbage.
		r := testRepo(t, wim.CompressLZX)
		src := filepath.Join(t.TempDir(), "src")
		if err := os.MkdirAll(src, 0o755); err != nil {
			t.Fatal(err)
		}
		hostileWrite(t, filepath.Join(src, "f"), hostileFile(1))
		snapshotOK(t, r, src, TakeOptions{})
		hostileWrite(t, repoObjPath(r.store.Location(), configKey), wimtest.RandomBytes(4, 176))
		_, err := OpenRepo(t.Context(), r.store, RepoOptions{CacheDir: filepath.Dir(r.IndexPath())})
		if !errors.Is(err, ErrRepoFormat) || !strings.Contains(err.Error(), "config") {
			t.Errorf("error %v, want ErrRepoFormat naming the config", err)
		}
	})
}

// TestManifestBounds: a manifest carrying a large image description (an
// imported WIM's, 1.2 MB) is stored and read back; one past the bounds is
// refused when stored, and one read with too many JSON values is refused
// as malformed, without decoding it.
func TestManifestBounds(t *testing.T) {
	r := testRepo(t, wim.CompressXPRESS)
	big := &Manifest{Time: time.Unix(1, 0).UTC(), Host: "h", Source: "/s",
		Image: ImageFields{Name: "n", Description: strings.Repeat("long text ", 120000)}, Metadata: StreamRef{SHA1: strings.Repeat("ab", 20), Size: 1}}
	stored, id, err := r.putManifest(t.Context(), big)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := r.decodeManifest(id, stored); err != nil || m.Image.Description != big.Image.Description {
		t.Fatalf("large description: %v", err)
	}
	tooMany := *big
	tooMany.Image.Description = ""
	tooMany.Tags = make([]string, maxManifestValues)
	for i := range tooMany.Tags {
		tooMany.Tags[i] = "{"
	}
	if _, _, err := r.putManifest(t.Context(), &tooMany); !errors.Is(err, ErrRepoFormat) {
		t.Errorf("manifest of %d braces stored: %v", maxManifestValues, err)
	}
	emptyTags := *big // 7 KB stored: it decoded into 1.25 GB at every listing
	emptyTags.Image.Description, emptyTags.Tags = "", make([]string, maxManifestValues)
	tagsJSON, err := json.Marshal(&emptyTags)
	must(t, err)
	for what, b := range map[string][]byte{
		"objects":    []byte(`{"extra":[` + strings.Repeat("{},", maxManifestValues) + `{}]}`),
		"empty tags": tagsJSON,
	} {
		stored = r.zstd.compress(b)
		if _, err := r.decodeManifest(objectID(stored), stored); !errors.Is(err, ErrRepoFormat) || !strings.Contains(err.Error(), "JSON values") {
			t.Errorf("manifest of %d JSON %s: %v, want it refused for its values", maxManifestValues, what, err)
		}
	}
	braces := *big // braces and commas in strings are text, not values
	braces.Image.Description = strings.Repeat("{[,\"", maxManifestValues)
	if _, _, err := r.putManifest(t.Context(), &braces); err != nil {
		t.Errorf("a description of braces, brackets, commas and quotes: %v", err)
	}
}

// TestManifestMetadataHash: a manifest whose metadata names the zero hash
// (the empty stream, which no image is; it panicked ls, restore and check,
// and hung snapshot) or a hash in upper case is malformed, and so is left
// out with a warning; the image source refuses the zero hash too.
func TestManifestMetadataHash(t *testing.T) {
	r := testRepo(t, wim.CompressXPRESS)
	for _, sha1 := range []string{strings.Repeat("0", 40), strings.Repeat("AB", 20)} {
		m := &Manifest{Time: time.Unix(1, 0).UTC(), Host: "h", Source: "/s", Metadata: StreamRef{SHA1: sha1, Size: 100}}
		stored, id, err := r.putManifest(t.Context(), m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.decodeManifest(id, stored); !errors.Is(err, ErrRepoFormat) {
			t.Errorf("metadata %s: %v, want ErrRepoFormat", sha1, err)
		}
	}
	if _, err := (&repoSource{}).readStream(wim.Hash{}, 1<<20); !errors.Is(err, ErrRepoFormat) {
		t.Errorf("readStream of the zero hash: %v, want ErrRepoFormat", err)
	}
}
