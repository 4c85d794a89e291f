//go:build unix

package snapshot

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
)

// TestStreamSizesEncoding: sizes survive the trip through a cache file;
// a file without them is all image; damaged ones are refused.
func TestStreamSizesEncoding(t *testing.T) {
	s := streamSizes{gen: index.Generation{7}}
	for i := range 3 {
		s.entries = append(s.entries, bytes.Repeat([]byte{byte(i + 1)}, 20)...)
		s.entries = binary.LittleEndian.AppendUint64(s.entries, uint64(100*i+1))
	}
	img := []byte("image bytes")
	file := s.appendTo(bytes.Clone(img))
	z, got, ok := splitSizes(file)
	if !ok || !bytes.Equal(z, img) || got.gen != s.gen || !bytes.Equal(got.entries, s.entries) {
		t.Fatalf("round trip: ok %v, img %q, sizes %+v", ok, z, got)
	}
	if z, got, ok := splitSizes(img); !ok || !bytes.Equal(z, img) || !got.gen.IsZero() {
		t.Errorf("a file without sizes: ok %v, img %q, gen %x", ok, z, got.gen)
	}
	for _, at := range []int{len(img) + 3, len(file) - 10} {
		bad := bytes.Clone(file)
		bad[at] ^= 1
		if _, _, ok := splitSizes(bad); ok {
			t.Errorf("a flipped byte at %d was accepted", at)
		}
	}
	if _, _, ok := splitSizes(file[len(file)-sizeFooterLen-5:]); ok {
		t.Error("a count larger than the file was accepted")
	}
}

// TestMetaCacheSizes: a snapshot caches its image with its stream sizes
// under the index's generation, and loading it as a parent takes the sizes
// from there; under another generation the index answers instead.
func TestMetaCacheSizes(t *testing.T) {
	src, r, _ := cacheTestRepo(t)
	first := snapshotOK(t, r, src, TakeOptions{}).Manifest
	path := r.metaCache().path(mustHash(t, first))
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, sizes, ok := splitSizes(file)
	if !ok || len(sizes.entries) == 0 {
		t.Fatalf("the cached image has no sizes (ok %v)", ok)
	}
	// Sizes agree with the index.
	md := metadataOK(t, r, first)
	db, err := r.syncedIndex(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	gen, err := db.Generation()
	if err == nil {
		err = setIndexSizes(db, md)
	}
	closeIndex(db)
	if err != nil || sizes.gen != gen {
		t.Fatalf("sizes recorded under %x, the index is at %x (%v)", sizes.gen, gen, err)
	}
	want := map[wim.Hash]int64{}
	md.Streams(func(s *wim.Stream) { want[s.Hash] = s.Size })
	for e := sizes.entries; len(e) > 0; e = e[sizeEntryLen:] {
		if got := int64(binary.LittleEndian.Uint64(e[20:])); want[wim.Hash(e[:20])] != got {
			t.Errorf("stream %x: cached size %d, index %d", e[:20], got, want[wim.Hash(e[:20])])
		}
	}

	// Sizes that differ from the index show which one answered.
	odd := streamSizes{gen: sizes.gen, entries: bytes.Clone(sizes.entries)}
	h0 := wim.Hash(odd.entries[:20])
	binary.LittleEndian.PutUint64(odd.entries[20:], uint64(want[h0]+1))
	odd.entries[sizeEntryLen+3] ^= 1 // the second stream is not the image's
	writeTestFile(t, path, odd.appendTo(bytes.Clone(img)))
	if got := streamSize(metadataOK(t, r, first), h0); got != want[h0] {
		t.Errorf("sizes of another image: size %d, want the index's %d", got, want[h0])
	}
	odd.entries[sizeEntryLen+3] ^= 1
	h := wim.Hash(odd.entries[:20])
	binary.LittleEndian.PutUint64(odd.entries[20:], uint64(want[h]+1))
	writeTestFile(t, path, odd.appendTo(bytes.Clone(img)))
	if got := streamSize(metadataOK(t, r, first), h); got != want[h]+1 {
		t.Errorf("under the index's generation: size %d, want the cached %d", got, want[h]+1)
	}
	odd.gen[0] ^= 1
	writeTestFile(t, path, odd.appendTo(bytes.Clone(img)))
	if got := streamSize(metadataOK(t, r, first), h); got != want[h] {
		t.Errorf("under another generation: size %d, want the index's %d", got, want[h])
	}
}

func metadataOK(t *testing.T, r *Repo, m *Manifest) *wim.Metadata {
	t.Helper()
	md, err := r.Metadata(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	return md
}

// streamSize returns the size of the first stream of md with hash h.
func streamSize(md *wim.Metadata, h wim.Hash) (size int64) {
	found := false
	md.Streams(func(s *wim.Stream) {
		if s.Hash == h && !found {
			size, found = s.Size, true
		}
	})
	return size
}
