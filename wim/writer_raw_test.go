package wim

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/wimsnap/wimsnap/wim/xpress"
)

// rawChunks compresses data in 32 KiB chunks with XPRESS as a repository
// stores them: compressed, or raw where that is not smaller.
func rawChunks(data []byte) [][]byte {
	enc := xpress.NewEncoder()
	var out [][]byte
	for off := 0; off < len(data); off += chunkSize {
		c := data[off:min(off+chunkSize, len(data))]
		z := enc.Encode(nil, c)
		if len(z) >= len(c) {
			z = bytes.Clone(c)
		}
		out = append(out, z)
	}
	return out
}

// TestAddRawStream writes streams from stored chunks (compressible, random,
// one chunk, several, a raw short last chunk) and reads them back.
func TestAddRawStream(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 70000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	streams := [][]byte{
		bytes.Repeat([]byte("hello raw world "), 10000),
		random,
		[]byte("short"),
		append(bytes.Repeat([]byte{'a'}, 2*chunkSize), random[:100]...),
	}
	path := filepath.Join(t.TempDir(), "raw.wim")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFile(t, f)
	w, err := NewWriter(f, WithCompression(CompressXPRESS))
	if err != nil {
		t.Fatal(err)
	}
	root := &Entry{Attributes: AttrDirectory, SecurityID: -1}
	for i, s := range streams {
		h := Hash(sha1.Sum(s))
		chunks := rawChunks(s)
		calls := 0
		next := func(buf []byte) ([]byte, error) {
			calls++
			return append(buf, chunks[calls-1]...), nil
		}
		if err := w.AddRawStream(h, int64(len(s)), next); err != nil {
			t.Fatal(err)
		}
		if calls != len(chunks) {
			t.Fatalf("stream %d: next called %d times, want %d", i, calls, len(chunks))
		}
		if err := w.AddRawStream(h, int64(len(s)), next); err != nil || calls != len(chunks) {
			t.Fatalf("a duplicate read its chunks again (%v)", err)
		}
		root.Children = append(root.Children, &Entry{Name: string(rune('a' + i)), Attributes: AttrNormal,
			SecurityID: -1, Data: Stream{Hash: h, Size: int64(len(s))}})
	}
	// A failing source and a chunk of impossible length drop the stream.
	boom := errors.New("boom")
	if err := w.AddRawStream(Hash{1}, 100, func([]byte) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("failing next: %v", err)
	}
	if err := w.AddRawStream(Hash{2}, 100, func(b []byte) ([]byte, error) { return make([]byte, 101), nil }); !errors.Is(err, ErrFormat) {
		t.Fatalf("long chunk: %v", err)
	}
	if w.HasStream(Hash{1}) || w.HasStream(Hash{2}) {
		t.Fatal("a failed raw stream was kept")
	}
	if err := w.AddImage(&Metadata{Root: root}, ImageInfo{Name: "raw"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := openTestWIM(t, path)
	if err := r.Verify(nil); err != nil {
		t.Fatal(err)
	}
	for _, s := range streams {
		rc, err := r.OpenStream(Hash(sha1.Sum(s)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil || !bytes.Equal(got, s) {
			t.Fatalf("stream read back wrong (%v)", err)
		}
	}
}
