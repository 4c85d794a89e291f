package snapshot

import (
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
		delta(1, 5, 4),                                                               // a whole recipe of 1 counts
		full(10, id(1)), delta(10, 9, 1), delta(11, 10, 2, patch{pos: 1, id: id(2)}), // and a delta after it does not
	} {
		r.add(s)
	}
	var bad []byte
	for _, s := range r.settle() {
		bad = append(bad, s.hash[0])
	}
	if want := []byte{4, 5, 6, 7, 8}; !slices.Equal(bad, want) {
		t.Fatalf("dropped %v, want %v", bad, want)
	}
	for name, want := range map[byte][]index.ID{
		1:  {id(10), id(11), id(12), id(13)},
		2:  {id(20), id(11), id(12)},
		3:  {id(20), id(11), id(12), id(33)},
		11: {id(1), id(2)},
	} {
		got, ok := r.chunks(h(name), nil)
		if !ok || !slices.Equal(got, want) {
			t.Errorf("stream %d: %x, %v; want %x", name, got, ok, want)
		}
	}
	for _, name := range []byte{4, 5, 6, 9} {
		if got, ok := r.chunks(h(name), nil); ok {
			t.Errorf("stream %d resolves to %x", name, got)
		}
	}
	r.reset()
	if _, ok := r.chunks(h(1), nil); ok || len(r.settle()) != 0 {
		t.Error("reset kept recipes")
	}
}
