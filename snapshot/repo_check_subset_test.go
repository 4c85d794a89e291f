//go:build unix

package snapshot

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

func TestParseDataSubset(t *testing.T) {
	good := []struct {
		in   string
		want DataSubset
	}{
		{"1/1", DataSubset{Group: 1, Groups: 1}},
		{"3/7", DataSubset{Group: 3, Groups: 7}},
		{"7/7", DataSubset{Group: 7, Groups: 7}},
		{"007/10", DataSubset{Group: 7, Groups: 10}},
		{"1/18446744073709551615", DataSubset{Group: 1, Groups: math.MaxUint64}},
		{"2.5%", DataSubset{Percent: 2.5}},
		{"100%", DataSubset{Percent: 100}},
		{"100.0%", DataSubset{Percent: 100}},
		{"0.001%", DataSubset{Percent: 0.001}},
		{"33%", DataSubset{Percent: 33}},
	}
	for _, tt := range good {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDataSubset(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
			again, err := ParseDataSubset(got.String())
			if err != nil || again != got {
				t.Fatalf("String %q parses as %+v, %v", got.String(), again, err)
			}
		})
	}
	bad := []struct{ in, reason string }{
		{"", "neither"},
		{"3", "neither"},
		{"0/7", "from 1 to t"},
		{"8/7", "from 1 to t"},
		{"3/0", "from 1 to t"},
		{"0/0", "from 1 to t"},
		{"-1/7", "whole numbers"},
		{"+1/7", "whole numbers"},
		{"a/7", "whole numbers"},
		{"3/", "whole numbers"},
		{"/7", "whole numbers"},
		{"3/7/1", "whole numbers"},
		{" 3/7", "whole numbers"},
		{"1.5/7", "whole numbers"},
		{"1/18446744073709551616", "whole numbers"},
		{"%", "not a decimal"},
		{"0%", "above 0"},
		{"0.0%", "above 0"},
		{"100.01%", "at most 100"},
		{"-5%", "not a decimal"},
		{"1e1%", "not a decimal"},
		{"0x10%", "not a decimal"},
		{"NaN%", "not a decimal"},
		{"Inf%", "not a decimal"},
		{".5%", "not a decimal"},
		{"5.%", "not a decimal"},
		{"5 %", "not a decimal"},
		{"5%%", "not a decimal"},
	}
	for _, tt := range bad {
		t.Run("bad "+tt.in, func(t *testing.T) {
			_, err := ParseDataSubset(tt.in)
			var se *SubsetError
			if !errors.As(err, &se) || se.Input != tt.in || !strings.Contains(se.Reason, tt.reason) {
				t.Fatalf("err = %v, want a *SubsetError for %q saying %q", err, tt.in, tt.reason)
			}
			if msg := err.Error(); !strings.Contains(msg, "n/t") || !strings.Contains(msg, "N%") {
				t.Errorf("message %q does not name the accepted forms", msg)
			}
		})
	}
}

// testPackIDs returns n distinct pack ids, deterministically.
func testPackIDs(n int) []index.ID {
	ids := make([]index.ID, n)
	for i := range ids {
		ids[i] = sha256.Sum256(fmt.Appendf(nil, "pack %d", i))
	}
	return ids
}

// TestSelectPacksGroups: the groups 1/t to t/t of any set of packs are
// disjoint and cover it, whatever t.
func TestSelectPacksGroups(t *testing.T) {
	ids := testPackIDs(200)
	for _, groups := range []uint64{1, 2, 3, 7, 16, 250} {
		seen := map[index.ID]int{}
		for n := uint64(1); n <= groups; n++ {
			sel := DataSubset{Group: n, Groups: groups}.selectPacks(ids, nil)
			if !slices.IsSortedFunc(sel, index.ID.Compare) {
				t.Errorf("%d/%d: not sorted", n, groups)
			}
			for _, id := range sel {
				seen[id]++
			}
		}
		for _, id := range ids {
			if seen[id] != 1 {
				t.Fatalf("t=%d: pack %x selected %d times", groups, id[:4], seen[id])
			}
		}
		if len(seen) != len(ids) {
			t.Fatalf("t=%d: %d packs selected, %d exist", groups, len(seen), len(ids))
		}
	}
	if got := (DataSubset{}).selectPacks(ids, nil); len(got) != len(ids) {
		t.Errorf("the zero subset selects %d of %d packs", len(got), len(ids))
	}
}

// TestSelectPacksPercent: a percentage selects round(N% of the packs),
// at least one, distinct and among them; the random source decides which,
// not the order of the input.
func TestSelectPacksPercent(t *testing.T) {
	for _, n := range []int{0, 1, 3, 10, 37, 200} {
		ids := testPackIDs(n)
		for _, p := range []float64{0.001, 2.5, 10, 25, 50, 99.9, 100} {
			want := int(math.Round(float64(n) * p / 100))
			if n > 0 {
				want = max(want, 1)
			}
			s := DataSubset{Percent: p}
			got := s.selectPacks(ids, rand.New(rand.NewPCG(1, 2)))
			if len(got) != want {
				t.Errorf("%v%% of %d packs: selected %d, want %d", p, n, len(got), want)
			}
			if !slices.IsSortedFunc(got, index.ID.Compare) || len(slices.CompactFunc(slices.Clone(got), func(a, b index.ID) bool { return a == b })) != len(got) {
				t.Errorf("%v%% of %d packs: not sorted or not distinct", p, n)
			}
			for _, id := range got {
				if !slices.Contains(ids, id) {
					t.Fatalf("%v%% of %d packs: selected a pack that does not exist", p, n)
				}
			}
			shuffled := slices.Clone(ids)
			rand.New(rand.NewPCG(9, 9)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			if again := s.selectPacks(shuffled, rand.New(rand.NewPCG(1, 2))); !slices.Equal(again, got) {
				t.Errorf("%v%% of %d packs: another input order gives another selection", p, n)
			}
		}
	}
	// Over seeds, every pack is drawn sometimes: the selection is random.
	ids := testPackIDs(10)
	drawn := map[index.ID]bool{}
	for seed := range uint64(200) {
		for _, id := range (DataSubset{Percent: 10}).selectPacks(ids, rand.New(rand.NewPCG(seed, 0))) {
			drawn[id] = true
		}
	}
	if len(drawn) != len(ids) {
		t.Errorf("200 draws of 10%% of 10 packs drew only %d of them", len(drawn))
	}
}

// packReads is a store that records the packs read whole (as check reads
// them).
type packReads struct {
	remote.Store
	mu   sync.Mutex
	keys map[string]int
}

func (p *packReads) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if strings.HasPrefix(key, packPrefix) && off == 0 && length < 0 {
		p.mu.Lock()
		p.keys[key]++
		p.mu.Unlock()
	}
	return p.Store.Get(ctx, key, off, length)
}

func (p *packReads) take() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.keys
	p.keys = map[string]int{}
	return k
}

// subsetRepo is a repository of n snapshots, snapshot i of its own
// directory holding file<i>.bin, so that each added one pack: pack i holds
// file<i>.bin and snapshot i's metadata.
type subsetRepo struct {
	r     *Repo
	reads *packReads // r's store
	dir   string     // of the local store
	files [][]byte
	snaps []*Manifest
	packs []index.ID
}

func makeSubsetRepo(t *testing.T, n int) *subsetRepo {
	t.Helper()
	base := testRepo(t, wim.CompressNone)
	s := &subsetRepo{dir: base.store.Location()}
	for i := range n {
		src := t.TempDir()
		s.files = append(s.files, wimtest.RandomBytes(uint64(300+i), 3*RepoChunkSize+1000))
		writeTestFile(t, filepath.Join(src, fmt.Sprintf("file%d.bin", i)), s.files[i])
		before := hostileIDs(t, base.store, packPrefix)
		s.snaps = append(s.snaps, snapshotOK(t, base, src, TakeOptions{}).Manifest)
		s.packs = append(s.packs, hostileNewID(t, before, hostileIDs(t, base.store, packPrefix)))
	}
	s.reads = &packReads{Store: base.store, keys: map[string]int{}}
	r, err := OpenRepo(t.Context(), s.reads, RepoOptions{CacheDir: filepath.Dir(base.IndexPath())})
	if err != nil {
		t.Fatal(err)
	}
	s.r = r
	return s
}

// TestCheckSubsetCoversEveryPack: check 1/t to t/t read every pack of the
// repository exactly once between them, and nothing else.
func TestCheckSubsetCoversEveryPack(t *testing.T) {
	s := makeSubsetRepo(t, 6)
	for _, groups := range []uint64{1, 2, 3, 5} {
		all := map[string]int{}
		total := 0
		for n := uint64(1); n <= groups; n++ {
			sub := DataSubset{Group: n, Groups: groups}
			res, err := s.r.Check(t.Context(), CheckOptions{Subset: sub})
			if err != nil {
				t.Fatalf("check %s: %v %q", sub, err, res.Problems)
			}
			read := s.reads.take()
			if res.ReadDataSubset != sub.String() || res.PacksRead != len(read) || res.Packs != len(s.packs) {
				t.Errorf("check %s: result %+v, %d packs read", sub, res, len(read))
			}
			for k, c := range read {
				all[k] += c
			}
			total += res.PacksRead
		}
		for _, id := range s.packs {
			if c := all[packKey(id)]; c != 1 {
				t.Errorf("t=%d: pack %s read %d times", groups, hexID(id)[:8], c)
			}
		}
		if total != len(s.packs) || len(all) != len(s.packs) {
			t.Errorf("t=%d: %d reads of %d packs, %d exist", groups, total, len(all), len(s.packs))
		}
	}
	// A percentage reads round(N%) of the packs, at least one.
	for p, want := range map[float64]int{50: 3, 40: 2, 1: 1, 100: 6} {
		res, err := s.r.Check(t.Context(), CheckOptions{Subset: DataSubset{Percent: p}, Rand: rand.New(rand.NewPCG(7, 7))})
		if read := s.reads.take(); err != nil || res.PacksRead != want || len(read) != want {
			t.Errorf("check %v%%: %v, %d packs read (%d whole gets), want %d", p, err, res.PacksRead, len(read), want)
		}
	}
	// Without data, no pack is read whole.
	if res, err := s.r.Check(t.Context(), CheckOptions{}); err != nil || res.PacksRead != 0 || res.ReadDataSubset != "" || len(s.reads.take()) != 0 {
		t.Errorf("structure check: %+v, %v", res, err)
	}
}

// TestCheckSubsetFindsDamage: a corrupt chunk in a pack is found, and the
// file and snapshot using it named, by the subsets that read that pack,
// and by no other.
func TestCheckSubsetFindsDamage(t *testing.T) {
	s := makeSubsetRepo(t, 3)
	const victim = 1
	// A byte in the middle of file1.bin's second chunk (stored raw).
	db, err := s.r.openIndex(true)
	if err != nil {
		t.Fatal(err)
	}
	rec, ok, err := db.Stream(index.SHA1(sha1.Sum(s.files[victim])))
	if err != nil || !ok {
		t.Fatalf("stream of file1.bin: %v %v", ok, err)
	}
	l, ok, err := db.Chunk(rec.Chunks[1])
	closeIndex(db)
	if err != nil || !ok || l.Pack != s.packs[victim] {
		t.Fatalf("chunk of file1.bin: %+v %v %v (pack 1 %x)", l, ok, err, s.packs[victim])
	}
	dmgFlip(t, filepath.Join(s.dir, filepath.FromSlash(packKey(l.Pack))), int64(l.Offset)+100)

	for _, groups := range []uint64{2, 3} {
		hit := packGroup(s.packs[victim], groups)
		for n := uint64(1); n <= groups; n++ {
			sub := DataSubset{Group: n, Groups: groups}
			res, err := s.r.Check(t.Context(), CheckOptions{Subset: sub})
			s.reads.take()
			if n != hit {
				if err != nil || len(res.Damaged) != 0 {
					t.Errorf("check %s, which does not read the damaged pack: %v %q", sub, err, res.Problems)
				}
				continue
			}
			problems := strings.Join(res.Problems, "\n")
			if !errors.Is(err, ErrCheckFailed) || !slices.Equal(res.Damaged, []string{s.snaps[victim].ID}) ||
				!strings.Contains(problems, "file1.bin") || !strings.Contains(problems, hexID(l.Pack)) {
				t.Errorf("check %s, which reads the damaged pack: %v, damaged %q, problems:\n%s", sub, err, res.Damaged, problems)
			}
		}
	}
}

// TestCheckSubsetOptions: a subset with ReadData, or an invalid one, is
// refused before anything is read.
func TestCheckSubsetOptions(t *testing.T) {
	r := testRepo(t, wim.CompressNone)
	for _, opts := range []CheckOptions{
		{ReadData: true, Subset: DataSubset{Percent: 5}},
		{Subset: DataSubset{Group: 0, Groups: 3}},
		{Subset: DataSubset{Group: 4, Groups: 3}},
		{Subset: DataSubset{Group: 1, Groups: 3, Percent: 5}},
		{Subset: DataSubset{Percent: 101}},
		{Subset: DataSubset{Percent: math.NaN()}},
	} {
		if _, err := r.Check(t.Context(), opts); err == nil || errors.Is(err, ErrCheckFailed) {
			t.Errorf("options %+v: err = %v, want a refusal", opts, err)
		}
	}
	if _, err := os.Stat(r.IndexPath()); err == nil {
		t.Error("a refused check opened the local index")
	}
}

// FuzzParseDataSubset: any input is refused or read into a valid subset
// that String writes back into the same subset.
func FuzzParseDataSubset(f *testing.F) {
	for _, s := range []string{"1/7", "7/7", "2.5%", "100%", "0/3", "1/0", "%", "1e3%", "-1/2", "18446744073709551615/18446744073709551615"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sub, err := ParseDataSubset(s)
		if err != nil {
			return
		}
		if err := sub.validate(); err != nil || sub.IsZero() {
			t.Fatalf("%q read as %+v: %v", s, sub, err)
		}
		again, err := ParseDataSubset(sub.String())
		if err != nil || again != sub {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, sub, sub.String(), again, err)
		}
	})
}
