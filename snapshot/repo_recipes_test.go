package snapshot

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/wimsnap/wimsnap/index"
)

func TestRecipes(t *testing.T) {
	id := func(b byte) index.ID { return index.ID{b} }
	h := func(b byte) index.SHA1 { return index.SHA1{b} }
	full := func(name byte, ids ...index.ID) *indexStream {
		return &indexStream{hash: h(name), size: int64(len(ids)) * RepoChunkSize, chunks: ids}
	}
	delta := func(name, base byte, n int64, ps ...patch) *indexStream {
		return &indexStream{hash: h(name), size: n * RepoChunkSize, delta: true, base: h(base), patches: ps}
	}
	r := newRecipes()
	for _, s := range []*indexStream{
		delta(3, 2, 4, patch{pos: 3, id: id(33)}), // grows its base by one
		delta(2, 1, 3, patch{pos: 0, id: id(20)}), // shrinks it
		full(1, id(10), id(11), id(12), id(13)),   //
		delta(4, 1, 6, patch{pos: 4, id: id(44)}), // too long for its base
		delta(5, 9, 1),                 // base unknown
		delta(6, 7, 1), delta(7, 6, 1), // a cycle
		delta(8, 6, 1),                                                               // on a cycle
		delta(1, 5, 4),                                                               // a second recipe of 1: it does not resolve, the whole one serves
		full(10, id(1)), delta(10, 9, 1), delta(11, 10, 2, patch{pos: 1, id: id(2)}), // the same, in the other order
		delta(12, 13, 1), delta(13, 12, 1), delta(12, 1, 1), // a cycle, broken by another recipe of 12
	} {
		r.add(s)
	}
	var bad []byte
	for _, s := range r.settle() {
		bad = append(bad, s.hash[0])
	}
	if want := []byte{1, 4, 5, 6, 7, 8, 10}; !slices.Equal(bad, want) {
		t.Fatalf("recipes that do not resolve: %v, want %v", bad, want)
	}
	for name, want := range map[byte][]index.ID{
		1:  {id(10), id(11), id(12), id(13)},
		2:  {id(20), id(11), id(12)},
		3:  {id(20), id(11), id(12), id(33)},
		11: {id(1), id(2)},
		12: {id(10)},
		13: {id(10)},
	} {
		got, ok := r.chunks(h(name))
		if !ok || !slices.Equal(got, want) {
			t.Errorf("stream %d: %x, %v; want %x", name, got, ok, want)
		}
	}
	for _, name := range []byte{4, 5, 6, 9} {
		if got, ok := r.chunks(h(name)); ok {
			t.Errorf("stream %d resolves to %x", name, got)
		}
	}
	r.reset()
	if _, ok := r.chunks(h(1)); ok || len(r.settle()) != 0 {
		t.Error("reset kept recipes")
	}
}

// TestRecipesChain: each version of a file changed every night is a delta
// of the one before; asked for in any order, every version expands right.
func TestRecipesChain(t *testing.T) {
	const n, versions = 64, 300
	r := newRecipes()
	want := make([][]index.ID, versions)
	want[0] = make([]index.ID, n)
	for j := range want[0] {
		want[0][j] = index.ID{byte(j), 0xff}
	}
	r.add(&indexStream{hash: index.SHA1{0, 0}, size: n * RepoChunkSize, chunks: want[0]})
	for i := 1; i < versions; i++ {
		pos := uint64(i % n)
		id := index.ID{byte(i), byte(i >> 8), 1}
		want[i] = slices.Clone(want[i-1])
		want[i][pos] = id
		r.add(&indexStream{hash: index.SHA1{byte(i), byte(i >> 8)}, size: n * RepoChunkSize, delta: true,
			base: index.SHA1{byte(i - 1), byte((i - 1) >> 8)}, patches: []patch{{pos: pos, id: id}}})
	}
	if bad := r.settle(); len(bad) != 0 {
		t.Fatalf("dropped %d", len(bad))
	}
	for _, i := range rand.Perm(versions) {
		got, ok := r.chunks(index.SHA1{byte(i), byte(i >> 8)})
		if !ok || !slices.Equal(got, want[i]) {
			t.Fatalf("version %d: %v, chunks differ", i, ok)
		}
	}
}

// BenchmarkRecipesChain expands each of 365 nightly versions of a 1 GiB
// file, each a delta of the one before: a version costs its base's chunk
// ids and the patches along its chain, not a copy per link.
func BenchmarkRecipesChain(b *testing.B) {
	const n, versions = 32768, 365
	r := newRecipes()
	r.add(&indexStream{hash: index.SHA1{0, 0}, size: n * RepoChunkSize, chunks: make([]index.ID, n)})
	for i := 1; i < versions; i++ {
		r.add(&indexStream{hash: index.SHA1{byte(i), byte(i >> 8)}, size: n * RepoChunkSize, delta: true,
			base: index.SHA1{byte(i - 1), byte((i - 1) >> 8)}, patches: []patch{{pos: uint64(i), id: index.ID{1}}}})
	}
	r.settle()
	for b.Loop() {
		for i := range versions {
			r.chunks(index.SHA1{byte(i), byte(i >> 8)})
		}
	}
}

// TestRecipesLikeFixpoint compares settle with the plain rule it
// implements, on random small sets of recipes (whole, deltas that shrink
// or grow their base, missing and short bases, cycles, several recipes of
// one stream): a stream resolves when one of its recipes is whole or is a
// delta whose base resolves to enough chunks, repeated until nothing
// changes; a delta recipe is reported when its base does not resolve so.
func TestRecipesLikeFixpoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		nh := 1 + rng.IntN(6)
		sizes := make([]int64, nh) // a stream's recipes agree on its size
		for i := range sizes {
			sizes[i] = int64(1+rng.IntN(5))*RepoChunkSize - int64(rng.IntN(2))
		}
		var ss []*indexStream
		for k := rng.IntN(9); k > 0; k-- {
			hh := rng.IntN(nh)
			n := nchunks(sizes[hh])
			s := &indexStream{hash: index.SHA1{byte(hh)}, size: sizes[hh]}
			if rng.IntN(3) == 0 {
				s.chunks = make([]index.ID, n)
			} else {
				s.delta, s.base = true, index.SHA1{byte(rng.IntN(nh + 1))}
				for j := range uint64(n) {
					if rng.IntN(2) == 0 {
						s.patches = append(s.patches, patch{pos: j, id: index.ID{1}})
					}
				}
			}
			ss = append(ss, s)
		}
		resolved := map[index.SHA1]int64{} // chunks of each stream that resolves
		fits := func(s *indexStream) bool {
			n, ok := resolved[s.base]
			return ok && s.fits(n)
		}
		for progress := true; progress; {
			progress = false
			for _, s := range ss {
				if _, ok := resolved[s.hash]; !ok && (!s.delta || fits(s)) {
					resolved[s.hash], progress = nchunks(s.size), true
				}
			}
		}
		var wantBad []*indexStream
		for _, s := range ss {
			if s.delta && !fits(s) {
				wantBad = append(wantBad, s)
			}
		}
		r := newRecipes()
		for _, s := range ss {
			r.add(s)
		}
		gotBad := r.settle()
		if len(gotBad) != len(wantBad) {
			t.Fatalf("%d recipes reported, want %d", len(gotBad), len(wantBad))
		}
		for hh := range nh {
			h := index.SHA1{byte(hh)}
			got, ok := r.chunks(h)
			n, want := resolved[h]
			if ok != want || ok && int64(len(got)) != n {
				t.Fatalf("stream %d: %d chunks, %v; want %d, %v", hh, len(got), ok, n, want)
			}
		}
	}
}
