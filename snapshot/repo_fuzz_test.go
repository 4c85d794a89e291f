package snapshot

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"

	"github.com/klauspost/compress/zstd"
)

// repoSeeds are real repository objects, made by the code that writes
// them, to seed the fuzz targets.
type repoSeeds struct {
	pack     []byte // a pack of three chunks (raw, XPRESS, LZX)
	trailer  []byte // its trailer, expanded
	dataLen  uint64 // the bytes its chunks take
	empty    []byte // a pack of no chunk
	indexObj []byte // an index object naming the pack and two streams, expanded
	manifest []byte // a stored manifest
	config   []byte // a repository config
}

// makeRepoSeeds builds the seeds with the repository's own encoders.
func makeRepoSeeds(tb testing.TB) repoSeeds {
	tb.Helper()
	var s repoSeeds
	z := newZcodec()
	text := []byte(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 1000))[:RepoChunkSize]
	raw := []byte("a short chunk stored as it is")
	var entries []packEntry
	pack, packID := packBytes(tb, tb.TempDir(), z, func(pb *packBuilder) {
		pb.add(index.ID(sha256.Sum256(raw)), raw, len(raw), uint8(wim.CompressNone))
		for _, c := range []wim.Compression{wim.CompressXPRESS, wim.CompressLZX} {
			stored := newChunkEncoder(c, 0).Encode(nil, text)
			if len(stored) == 0 || len(stored) >= len(text) {
				tb.Fatalf("%v encoder: %d bytes of %d", c, len(stored), len(text))
			}
			pb.add(index.ID(sha256.Sum256(text)), stored, len(text), uint8(c))
		}
		entries = slices.Clone(pb.entries)
	})
	s.pack = pack
	tl := binary.LittleEndian.Uint32(pack[len(pack)-packFooterLen:])
	s.dataLen = uint64(len(pack) - packFooterLen - int(tl))
	t, err := z.expand(pack[s.dataLen:s.dataLen+uint64(tl)], "seed trailer", maxZstdObject)
	if err != nil {
		tb.Fatal(err)
	}
	s.trailer = t
	s.empty = appendPackTrailer(nil, nil, z)

	streamA := append(bytes.Clone(text), raw...) // two chunks
	o := indexObject{
		packs: []indexPack{{id: packID, entries: entries}},
		streams: []indexStream{
			{hash: index.SHA1(sha1.Sum(text)), size: int64(len(text)), chunks: []index.ID{entries[1].id}},
			{hash: index.SHA1(sha1.Sum(streamA)), size: int64(len(streamA)), chunks: []index.ID{entries[1].id, entries[0].id}},
			// A changed version of streamA, stored as a delta recipe.
			{hash: index.SHA1{0xde, 0x17}, size: int64(len(streamA)), delta: true, base: index.SHA1(sha1.Sum(streamA)),
				patches: []patch{{pos: 1, id: entries[1].id}}},
		},
	}
	s.indexObj = o.encode()

	ctx := context.Background()
	store := remote.NewMemory()
	if _, err := InitRepo(ctx, store, wim.CompressLZX); err != nil {
		tb.Fatal(err)
	}
	if s.config, err = remote.ReadAll(ctx, store, configKey, maxConfigLen); err != nil {
		tb.Fatal(err)
	}
	r, err := OpenRepo(ctx, store, RepoOptions{CacheDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	m := &Manifest{Time: time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC), Host: "host", Source: "/src/dir",
		Parent: strings.Repeat("ab", 32), Tags: []string{"daily", "ünïcode"},
		Image: ImageFields{Name: "img", Description: "d", Flags: "f", Extra: []wim.XMLNode{{
			XMLName: xml.Name{Local: "WINDOWS"}, Attrs: []xml.Attr{{Name: xml.Name{Local: "a"}, Value: "1"}},
			Nodes: []wim.XMLNode{{XMLName: xml.Name{Local: "ARCH"}, Text: "9"}}}}},
		Metadata: StreamRef{SHA1: hex.EncodeToString(o.streams[0].hash[:]), Size: 4096},
		Summary:  RunSummary{Dirs: 3, Files: 5, Bytes: 1 << 40, DurationSec: 1.25}}
	if s.manifest, _, err = r.putManifest(ctx, m); err != nil {
		tb.Fatal(err)
	}
	return s
}

// newMemRepo opens a repository in a new memory store.
func newMemRepo(tb testing.TB) *Repo {
	tb.Helper()
	store := remote.NewMemory()
	if _, err := InitRepo(context.Background(), store, wim.CompressXPRESS); err != nil {
		tb.Fatal(err)
	}
	r, err := OpenRepo(context.Background(), store, RepoOptions{CacheDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// hostileCount is a count no input of fuzzing size can back.
const hostileCount = 1 << 60

func uvarintsAfter(prefix string, counts ...uint64) []byte {
	b := []byte(prefix)
	for _, n := range counts {
		b = binary.AppendUvarint(b, n)
	}
	return b
}

// checkPackEntries checks what a successful pack trailer parse promises:
// chunks back to back from offset 0, covering dataLen exactly.
func checkPackEntries(t *testing.T, entries []packEntry, dataLen uint64) {
	t.Helper()
	var off uint64
	for i, e := range entries {
		if e.offset != off || e.stored == 0 || e.stored > e.raw || e.raw > RepoChunkSize {
			t.Fatalf("entry %d: %+v (expected offset %d)", i, e, off)
		}
		off += uint64(e.stored)
	}
	if off != dataLen {
		t.Fatalf("entries cover %d bytes, the pack's chunks %d", off, dataLen)
	}
}

func FuzzPackTrailer(f *testing.F) {
	s := makeRepoSeeds(f)
	f.Add(s.trailer, s.dataLen)
	f.Add(s.trailer, s.dataLen+1)
	f.Add(s.trailer[:len(s.trailer)-1], s.dataLen)
	f.Add([]byte(packTrailerMagic+"\x00"), uint64(0))
	f.Add([]byte("wimsnap pack 2\n"), uint64(339)) // a newer format: refused as such
	f.Add(uvarintsAfter(packTrailerMagic, hostileCount), uint64(0))
	f.Add(append(uvarintsAfter(packTrailerMagic, 1), make([]byte, 34)...), uint64(0))
	z := newZcodec()
	f.Fuzz(func(t *testing.T, b []byte, dataLen uint64) {
		entries, err := parsePackTrailer(b, dataLen)
		if err != nil {
			if !errors.Is(err, ErrRepoFormat) && !errors.Is(err, ErrNewerFormat) {
				t.Fatalf("error neither ErrRepoFormat nor ErrNewerFormat: %v", err)
			}
			return
		}
		if most := (len(b) - len(packTrailerMagic)) / 35; len(entries) > most {
			t.Fatalf("%d entries from %d bytes", len(entries), len(b))
		}
		checkPackEntries(t, entries, dataLen)
		if dataLen > 4<<20 {
			return
		}
		// Round trip through the real pack writer and whole-pack parser.
		pack := appendPackTrailer(make([]byte, dataLen), entries, z)
		again, err := parsePackBytes(z, pack)
		if err != nil {
			t.Fatalf("re-encoded pack: %v", err)
		}
		if !slices.Equal(again, entries) {
			t.Fatalf("re-encoded pack parses to %+v, want %+v", again, entries)
		}
	})
}

func FuzzPackBytes(f *testing.F) {
	s := makeRepoSeeds(f)
	f.Add(s.pack)
	f.Add(s.empty)
	f.Add(s.pack[:len(s.pack)-1])
	f.Add(s.pack[s.dataLen:])
	huge := bytes.Clone(s.pack)
	binary.LittleEndian.PutUint32(huge[len(huge)-packFooterLen:], 1<<31)
	f.Add(huge)
	f.Add([]byte(packMagic))
	z := newZcodec()
	r := newMemRepo(f)
	spool := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := parsePackBytes(z, data)
		// readPackTrailer reads the same trailer with ranged reads.
		id := objectID(data)
		if perr := putBytes(t.Context(), r.store, packKey(id), data); perr != nil {
			t.Fatal(perr)
		}
		viaStore, serr := r.readPackTrailer(t.Context(), id, int64(len(data)))
		if derr := r.store.Delete(t.Context(), packKey(id)); derr != nil {
			t.Fatal(derr)
		}
		if (err == nil) != (serr == nil) {
			t.Fatalf("parsePackBytes: %v; readPackTrailer: %v", err, serr)
		}
		if err != nil {
			if !objectErr(err) || !objectErr(serr) {
				t.Fatalf("errors not ErrRepoFormat or ErrNewerFormat: %v; %v", err, serr)
			}
			if !strings.Contains(serr.Error(), packKey(id)) {
				t.Fatalf("readPackTrailer's error does not name the pack: %v", serr)
			}
			return
		}
		if !slices.Equal(entries, viaStore) {
			t.Fatalf("parsePackBytes %+v, readPackTrailer %+v", entries, viaStore)
		}
		tl := binary.LittleEndian.Uint32(data[len(data)-packFooterLen:])
		checkPackEntries(t, entries, uint64(len(data)-packFooterLen-int(tl)))
		// Round trip: the same chunks through packBuilder.
		pack, _ := packBytes(t, spool, z, func(pb *packBuilder) {
			for _, e := range entries {
				pb.add(e.id, data[e.offset:e.offset+uint64(e.stored)], int(e.raw), e.codec)
			}
		})
		again, err := parsePackBytes(z, pack)
		if err != nil {
			t.Fatalf("rebuilt pack: %v", err)
		}
		if !slices.Equal(again, entries) {
			t.Fatalf("rebuilt pack parses to %+v, want %+v", again, entries)
		}
		if !bytes.Equal(pack[:len(pack)-packFooterLen-int(binary.LittleEndian.Uint32(pack[len(pack)-packFooterLen:]))],
			data[:len(data)-packFooterLen-int(tl)]) {
			t.Fatal("rebuilt pack's chunks differ")
		}
	})
}

// checkIndexObject checks a parsed index object's invariants and that it
// re-encodes to bytes that parse to the same object.
func checkIndexObject(t *testing.T, o *indexObject, inputLen int) {
	t.Helper()
	for _, p := range o.packs {
		for _, e := range p.entries {
			if e.stored == 0 || e.stored > e.raw || e.raw > RepoChunkSize {
				t.Fatalf("chunk %+v", e)
			}
		}
	}
	for _, s := range o.streams {
		n := (s.size + RepoChunkSize - 1) / RepoChunkSize
		if s.delta {
			for i, p := range s.patches {
				if int64(p.pos) >= n || i > 0 && p.pos <= s.patches[i-1].pos {
					t.Fatalf("delta stream of %d bytes: patch %d at %d", s.size, i, p.pos)
				}
			}
			continue
		}
		if s.size <= 0 || int64(len(s.chunks)) != n {
			t.Fatalf("stream of %d bytes with %d chunks", s.size, len(s.chunks))
		}
	}
	// Resolving never panics nor allocates beyond the base it is given.
	cp := *o
	cp.streams = append([]indexStream(nil), o.streams...)
	seen := map[*indexStream]bool{}
	for _, s := range cp.order() {
		seen[s] = true
		s.resolve(func(index.SHA1) ([]index.ID, bool) { return make([]index.ID, 3), true })
	}
	if len(seen) != len(cp.streams) {
		t.Fatalf("order gives %d of %d streams", len(seen), len(cp.streams))
	}
	checkRecipes(t, o)
	// An object of the first layout (no kind bytes) re-encodes with a kind
	// byte for each stream.
	b := o.encode()
	if len(b) > inputLen+len(o.streams) {
		t.Fatalf("re-encoded to %d bytes from %d (%d streams)", len(b), inputLen, len(o.streams))
	}
	again, err := parseIndexObject(b)
	if err != nil {
		t.Fatalf("re-encoded object: %v", err)
	}
	if !reflect.DeepEqual(again, o) {
		t.Fatalf("re-encoded object parses to %+v, want %+v", again, o)
	}
	if !bytes.Equal(again.encode(), b) {
		t.Fatal("encoding is not stable")
	}
}

// checkRecipes: the lazy recipes of o's streams drop only deltas, and
// each one kept gives its size's count of chunks: its patches where it
// has them, else its base's.
func checkRecipes(t *testing.T, o *indexObject) {
	t.Helper()
	r := newRecipes()
	for i := range o.streams {
		r.add(&o.streams[i])
	}
	for _, s := range r.settle() {
		if !s.delta {
			t.Fatalf("whole recipe %x dropped", s.hash[:4])
		}
	}
	for h, s := range r.streams {
		got, ok := r.chunks(h)
		got = slices.Clone(got) // the next call reuses it
		if !ok || int64(len(got)) != nchunks(s.size) {
			t.Fatalf("stream %x of %d bytes: %d chunks, %v", h[:4], s.size, len(got), ok)
		}
		if !s.delta {
			continue
		}
		base, _ := r.chunks(s.base)
		patched := map[uint64]index.ID{}
		for _, p := range s.patches {
			patched[p.pos] = p.id
		}
		for i, id := range got {
			want, ok := patched[uint64(i)]
			if !ok {
				want = base[i]
			}
			if id != want {
				t.Fatalf("stream %x, chunk %d: %x, want %x", h[:4], i, id[:4], want[:4])
			}
		}
	}
}

func FuzzIndexObject(f *testing.F) {
	s := makeRepoSeeds(f)
	f.Add(s.indexObj)
	f.Add(s.indexObj[:len(s.indexObj)-1])
	f.Add(append(bytes.Clone(s.indexObj), 0))
	f.Add(uvarintsAfter(indexMagic, 0, 0))
	for _, b := range hostileIndexObjects() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := parseIndexObject(b)
		if err != nil {
			if !objectErr(err) {
				t.Fatalf("error not ErrRepoFormat or ErrNewerFormat: %v", err)
			}
			return
		}
		checkIndexObject(t, o, len(b))
	})
}

func FuzzIndexObjectStored(f *testing.F) {
	s := makeRepoSeeds(f)
	z := newZcodec()
	f.Add(z.compress(s.indexObj))
	f.Add(z.compress(uvarintsAfter(indexMagic, 0, 0)))
	f.Add(s.indexObj)
	f.Add(zstdBomb(500 << 20))
	f.Add(zstdBomb(1 << 40))
	for _, b := range hostileIndexObjects() {
		f.Add(z.compress(b))
	}
	r := newMemRepo(f)
	f.Fuzz(func(t *testing.T, stored []byte) {
		o, err := func() (*indexObject, error) {
			b, err := z.expand(stored, "index object", maxZstdObject)
			if err != nil {
				return nil, err
			}
			return parseIndexObject(b)
		}()
		// The same bytes through readIndexObject, which checks the id.
		id := objectID(stored)
		if perr := putBytes(t.Context(), r.store, indexKey(id), stored); perr != nil {
			t.Fatal(perr)
		}
		viaStore, serr := r.readIndexObject(t.Context(), id)
		if derr := r.store.Delete(t.Context(), indexKey(id)); derr != nil {
			t.Fatal(derr)
		}
		if (err == nil) != (serr == nil) {
			t.Fatalf("expand+parse: %v; readIndexObject: %v", err, serr)
		}
		if err != nil {
			if !objectErr(err) || !objectErr(serr) {
				t.Fatalf("errors not ErrRepoFormat or ErrNewerFormat: %v; %v", err, serr)
			}
			if !strings.Contains(serr.Error(), indexKey(id)) {
				t.Fatalf("readIndexObject's error does not name the object: %v", serr)
			}
			return
		}
		if !reflect.DeepEqual(o, viaStore) {
			t.Fatalf("expand+parse %+v, readIndexObject %+v", o, viaStore)
		}
		again, err := z.expand(z.compress(o.encode()), "again", maxZstdObject)
		if err != nil {
			t.Fatal(err)
		}
		o2, err := parseIndexObject(again)
		if err != nil || !reflect.DeepEqual(o2, o) {
			t.Fatalf("round trip: %+v, %v; want %+v", o2, err, o)
		}
	})
}

func FuzzManifest(f *testing.F) {
	s := makeRepoSeeds(f)
	z := newZcodec()
	f.Add(s.manifest)
	f.Add(s.manifest[:len(s.manifest)-1])
	f.Add(z.compress([]byte(`{"version":1,"metadata":{"sha1":"0123456789abcdef0123456789abcdef01234567","size":1}}`)))
	f.Add(z.compress([]byte(`{"version":2,"metadata":{"sha1":"0123456789abcdef0123456789abcdef01234567","size":1}}`)))
	f.Add(z.compress([]byte(`{"version":1,"metadata":{"sha1":"0123","size":1}}`)))
	f.Add(z.compress([]byte(`{"version":1,"time":"2025-01-02T03:04:05.5+05:30","tags":["\xff"],` +
		`"metadata":{"sha1":"0123456789abcdef0123456789abcdef01234567","size":1}}`)))
	f.Add(z.compress([]byte(`[]`)))
	f.Add(zstdBomb(500 << 20))
	r := newMemRepo(f)
	f.Fuzz(func(t *testing.T, stored []byte) {
		id := objectID(stored)
		name := hex.EncodeToString(id[:])
		wrong := id
		wrong[0] ^= 1
		if _, err := r.decodeManifest(wrong, stored); !errors.Is(err, ErrRepoFormat) {
			t.Fatalf("manifest under a wrong id: %v", err)
		}
		m, err := r.decodeManifest(id, stored)
		if err != nil {
			if !objectErr(err) || !strings.Contains(err.Error(), name) {
				t.Fatalf("error not ErrRepoFormat or ErrNewerFormat naming the snapshot: %v", err)
			}
			return
		}
		if m.ID != name || m.Version != RepoVersion || m.ShortID() != name[:8] {
			t.Fatalf("manifest %s: id %q, version %d", name, m.ID, m.Version)
		}
		if _, err := m.hash(); err != nil {
			t.Fatalf("accepted manifest's metadata: %v", err)
		}
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("accepted manifest does not marshal: %v", err)
		}
		// Round trip through putManifest.
		m2 := *m
		stored2, id2, err := r.putManifest(t.Context(), &m2)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.store.Delete(t.Context(), snapKey(id2)); err != nil {
			t.Fatal(err)
		}
		m3, err := r.decodeManifest(id2, stored2)
		if err != nil {
			t.Fatalf("re-stored manifest: %v", err)
		}
		got, err := json.Marshal(m3)
		if err != nil || !bytes.Equal(got, want) || m3.ID != hex.EncodeToString(id2[:]) {
			t.Fatalf("round trip: %s (%v), want %s", got, err, want)
		}
	})
}

func FuzzRepoConfig(f *testing.F) {
	s := makeRepoSeeds(f)
	f.Add(s.config)
	f.Add(s.config[:len(s.config)/2])
	f.Add([]byte(`{"version":1,"id":"` + strings.Repeat("0", 64) + `","chunk_size":32768,"codec":"lzms"}`))
	f.Add([]byte(`{"version":2,"id":"` + strings.Repeat("0", 64) + `","chunk_size":32768,"codec":"none"}`))
	f.Add([]byte(`{"version":1,"id":"x","chunk_size":32768,"codec":"none"}`))
	f.Add([]byte(`null`))
	f.Add([]byte{})
	cacheDir := filepath.Join(f.TempDir(), "cache")
	f.Fuzz(func(t *testing.T, config []byte) {
		store := remote.NewMemory()
		if err := putBytes(t.Context(), store, configKey, config); err != nil {
			t.Fatal(err)
		}
		r, err := OpenRepo(t.Context(), store, RepoOptions{CacheDir: cacheDir})
		if err != nil {
			if len(config) > maxConfigLen && errors.Is(err, remote.ErrTooLarge) {
				return
			}
			if !errors.Is(err, ErrRepoFormat) && !errors.Is(err, ErrNewerFormat) || !strings.Contains(err.Error(), "config") {
				t.Fatalf("error neither ErrRepoFormat nor ErrNewerFormat naming the config: %v", err)
			}
			return
		}
		cfg := r.Config()
		codec, ok := wim.ParseCompression(cfg.Codec)
		if cfg.Version != RepoVersion || cfg.ChunkSize != RepoChunkSize || !ok || codec == wim.CompressLZMS {
			t.Fatalf("accepted config %+v", cfg)
		}
		if _, ok := parseID(cfg.ID); !ok {
			t.Fatalf("accepted config whose id %q is not 64 hexadecimal digits", cfg.ID)
		}
		if p := r.IndexPath(); filepath.Dir(p) != cacheDir {
			t.Fatalf("index file %s is outside the cache directory %s", p, cacheDir)
		}
	})
}

// hostileIndexObjects are index objects whose counts and sizes claim far
// more than their bytes hold, by name.
func hostileIndexObjects() map[string][]byte {
	id := strings.Repeat("\x01", 32)
	sha := strings.Repeat("\x02", 20)
	return map[string][]byte{
		"pack count 2^60":       uvarintsAfter(indexMagic, hostileCount),
		"pack count 2^24":       uvarintsAfter(indexMagic, 1<<24),
		"chunk count 2^60":      uvarintsAfter(indexMagic+"\x01"+id, hostileCount),
		"chunk count 2^24":      uvarintsAfter(indexMagic+"\x01"+id, 1<<24),
		"stream count 2^60":     uvarintsAfter(indexMagic+"\x00", hostileCount),
		"stream count 2^24":     uvarintsAfter(indexMagic+"\x00", 1<<24),
		"stream size 2^62":      uvarintsAfter(indexMagic+"\x00\x01"+sha, 1<<62),
		"stream size 2^40":      uvarintsAfter(indexMagic+"\x00\x01"+sha, 1<<40),
		"stream size 0":         uvarintsAfter(indexMagic+"\x00\x01"+sha, 0),
		"chunk offset 2^63":     uvarintsAfter(indexMagic+"\x01"+id+"\x01"+id, 1<<63),
		"chunk stored over raw": uvarintsAfter(indexMagic+"\x01"+id+"\x01"+id, 0, 2, 1),
	}
}

// zstdBomb is a zstd frame that declares contentSize bytes of content and
// holds one empty raw block.
// zstdUndeclared compresses b into a zstd frame without its content size.
func zstdUndeclared(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	enc, err := zstd.NewWriter(&out, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func zstdBomb(contentSize uint64) []byte {
	b := []byte{0x28, 0xb5, 0x2f, 0xfd, 0xc0, 0x00} // magic; 8-byte content size, window 1 KiB
	b = binary.LittleEndian.AppendUint64(b, contentSize)
	return append(b, 0x01, 0x00, 0x00) // last block, raw, 0 bytes
}

// bytesAllocated returns the bytes fn allocates.
func bytesAllocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestRepoParseHostileCounts: counts and sizes that the input cannot back
// are refused without allocating for them.
func TestRepoParseHostileCounts(t *testing.T) {
	const limit = 1 << 20
	z := newZcodec()
	type hostile struct {
		name  string
		parse func() error
		limit uint64 // of bytes allocated, when not the default
	}
	var cases []hostile
	for _, n := range []uint64{hostileCount, 1 << 32, 1 << 24} {
		b := append(uvarintsAfter(packTrailerMagic, n), make([]byte, 64)...)
		cases = append(cases, hostile{fmt.Sprintf("pack trailer count %#x", n), func() error {
			_, err := parsePackTrailer(b, 0)
			return err
		}, 0})
	}
	objs := hostileIndexObjects()
	for _, name := range slices.Sorted(maps.Keys(objs)) {
		b := objs[name]
		cases = append(cases, hostile{"index object " + name, func() error {
			_, err := parseIndexObject(b)
			return err
		}, 0})
	}
	for _, size := range []uint64{500 << 20, 1 << 40} {
		b := zstdBomb(size)
		cases = append(cases, hostile{fmt.Sprintf("zstd content size %#x", size), func() error {
			_, err := z.expand(b, "bomb", maxZstdObject)
			return err
		}, 0})
	}
	// An object may expand to its kind's limit (1 MiB here): a real frame
	// of more (zeros compress to almost nothing) is refused for what it
	// declares, and without a declared size, or behind a small first
	// frame, once it has expanded to the limit, having allocated a few
	// times that.
	const objLimit = 1 << 20
	zeros := make([]byte, 64<<20)
	undeclared := zstdUndeclared(t, zeros)
	for name, b := range map[string][]byte{
		"manifest declaring more than its limit": z.compress(zeros),
		"manifest of undeclared size":            undeclared,
		"manifest behind a small declared frame": append(z.compress([]byte("{}")), undeclared...),
	} {
		cases = append(cases, hostile{name, func() error {
			_, err := z.expand(b, "snapshot", objLimit)
			return err
		}, 16 << 20}) // a streaming decoder's buffers beside the limit
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			n := bytesAllocated(func() { err = c.parse() })
			if !errors.Is(err, ErrRepoFormat) {
				t.Errorf("error %v, want ErrRepoFormat", err)
			}
			if n > max(limit, c.limit) {
				t.Errorf("bytesAllocated %d bytes", n)
			}
		})
	}
}

// packBytes builds a pack in a spool file in dir with the chunks fill adds
// to a packBuilder, and returns its bytes and id.
func packBytes(tb testing.TB, dir string, z *zcodec, fill func(*packBuilder)) ([]byte, index.ID) {
	tb.Helper()
	p := newPackBuilder(dir)
	fill(p)
	f, id, err := p.finish(z)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(f.reader())
	if err != nil {
		tb.Fatal(err)
	}
	return b, id
}

// objectErr reports whether err is the error for a malformed object or
// one of a newer format.
func objectErr(err error) bool {
	return errors.Is(err, ErrRepoFormat) || errors.Is(err, ErrNewerFormat)
}
