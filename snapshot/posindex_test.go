package snapshot

import (
	"encoding/binary"
	"testing"

	"github.com/wimsnap/wimsnap/index"
)

// TestPosIndexGrows puts enough keys to grow the slots several times,
// some sharing their hash and many sharing its low bits, and finds each
// one, and none of the keys not put.
func TestPosIndexGrows(t *testing.T) {
	type elem struct{ h, key uint64 }
	var list []elem
	var x posIndex
	find := func(e elem) int32 {
		return x.get(e.h, func(p int32) bool { return list[p] == e })
	}
	key := func(i int) elem {
		h := uint64(i%5000) << 20 // low 20 bits shared by all
		if i%7 == 0 {
			h = 42 // and a run of equal hashes
		}
		return elem{h, uint64(i)}
	}
	const n = 20000
	for i := range n {
		e := key(i)
		if p := find(e); p != -1 {
			t.Fatalf("key %d found at %d before it was put", i, p)
		}
		x.put(e.h, int32(len(list)), func(p int32) uint64 { return list[p].h })
		list = append(list, e)
	}
	for i := range n {
		if p := find(key(i)); p != int32(i) {
			t.Fatalf("key %d at %d, want %d", i, p, i)
		}
	}
	if p := find(elem{42, n + 7}); p != -1 {
		t.Errorf("a key never put found at %d", p)
	}
	if len(x.slots) > 4*n || 4*x.n > 3*len(x.slots) {
		t.Errorf("%d slots for %d keys", len(x.slots), x.n)
	}
}

// TestSinkFindsAddedStreams checks the sink's index of the streams it
// added: each is found by its hash, and one not added is not.
func TestSinkFindsAddedStreams(t *testing.T) {
	s := &repoSink{}
	for i := range 3000 {
		var h index.SHA1
		binary.LittleEndian.PutUint32(h[16:], uint32(i)) // first 8 bytes all zero
		s.streams.put(sha1Hash(h), int32(len(s.added)), func(p int32) uint64 { return sha1Hash(s.added[p].hash) })
		s.added = append(s.added, indexStream{hash: h, size: int64(i)})
	}
	for _, i := range []int{0, 1, 1500, 2999} {
		var h index.SHA1
		binary.LittleEndian.PutUint32(h[16:], uint32(i))
		if p := s.addedAt(h); p < 0 || s.added[p].size != int64(i) {
			t.Errorf("stream %d at %d", i, p)
		}
	}
	if p := s.addedAt(index.SHA1{19: 1}); p != -1 {
		t.Errorf("a stream not added found at %d", p)
	}
}
