package lzms

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/codectest"
)

// Golden chunks: testdata/KIND-SEED-SIZE-LEVEL.lzms holds the input that
// generated(KIND, SEED, SIZE) returns, compressed by wimlib's LZMS
// compressor at LEVEL as one chunk. No LZMS encoder exists in Go, so these
// let the tests without the wimlib tag decode real streams. The wimlib-tagged
// TestGoldenUpdate writes them (go test -tags wimlib -run TestGoldenUpdate
// -update).

// goldenChunk is a golden file's input and compressed chunk.
type goldenChunk struct {
	name string
	kind string
	data []byte
	comp []byte
}

// goldenChunks reads every golden chunk and regenerates its input.
func goldenChunks(tb testing.TB) []goldenChunk {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.lzms"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) == 0 {
		tb.Fatal("no golden chunks in testdata")
	}
	var gs []goldenChunk
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".lzms")
		var kind string
		var seed uint64
		var size, level int
		if _, err := fmt.Sscanf(strings.ReplaceAll(name, "-", " "), "%s %d %d %d", &kind, &seed, &size, &level); err != nil {
			tb.Fatalf("%s: name is not KIND-SEED-SIZE-LEVEL: %v", p, err)
		}
		data, err := generated(kind, seed, size)
		if err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		comp, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		gs = append(gs, goldenChunk{name: name, kind: kind, data: data, comp: comp})
	}
	return gs
}

// TestGolden decodes the golden chunks, each twice with one Decoder and
// after a prefix in dst.
func TestGolden(t *testing.T) {
	d := NewDecoder()
	for _, g := range goldenChunks(t) {
		t.Run(g.name, func(t *testing.T) {
			for range 2 {
				got, err := d.Decode([]byte("prefix"), g.comp, len(g.data))
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if string(got[:6]) != "prefix" || !bytes.Equal(got[6:], g.data) {
					t.Fatalf("decoded chunk differs at byte %d", codectest.FirstDiff(got[6:], g.data))
				}
			}
		})
	}
}

// TestGoldenCoverage checks that the golden chunks exercise what they are
// there for: the x86 filter changes the x86 chunks, and delta matches
// occur in the counter and image chunks.
func TestGoldenCoverage(t *testing.T) {
	d := NewDecoder()
	for _, g := range goldenChunks(t) {
		out := make([]byte, len(g.data))
		d.whole(g.comp)
		d.reset(len(out))
		if err := d.decodeItems(out); err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		translated := !bytes.Equal(out, g.data)
		if want := g.kind == "x86" || g.kind == "mixed"; translated != want {
			t.Errorf("%s: x86 filter changed the chunk: %v, want %v", g.name, translated, want)
		}
		if g.kind == "count16" || g.kind == "image" {
			// The delta queue's front entry changes with every
			// explicit delta match.
			if d.dtReps == newRepQueue() {
				t.Errorf("%s: no explicit delta match", g.name)
			}
		}
	}
}

// TestDecodeMutated flips bytes of the golden chunks and truncates them:
// Decode must succeed or fail with ErrCorrupt, never panic. Truncated chunks
// of more than a few hundred bytes must fail, and so must a size well
// beyond the real one.
func TestDecodeMutated(t *testing.T) {
	d := NewDecoder()
	var out []byte
	for _, g := range goldenChunks(t) {
		buf := make([]byte, len(g.comp))
		for i := range g.comp {
			for _, x := range []byte{1, 0x80, 0xFF} {
				copy(buf, g.comp)
				buf[i] ^= x
				out = decodeOrCorrupt(t, d, out, buf, len(g.data))
			}
		}
		failed := 0
		for n := range len(g.comp) {
			if _, err := d.Decode(out[:0], g.comp[:n], len(g.data)); err != nil {
				failed++
			}
			out = decodeOrCorrupt(t, d, out, g.comp[:n], len(g.data))
		}
		if failed < len(g.comp)*9/10 {
			t.Errorf("%s: only %d of %d truncations failed", g.name, failed, len(g.comp))
		}
		for _, extra := range []int{1, 2, 16, 1000, len(g.data)} {
			out = decodeOrCorrupt(t, d, out, g.comp, len(g.data)+extra)
		}
		for _, extra := range []int{1000, len(g.data)} {
			if _, err := d.Decode(out[:0], g.comp, len(g.data)+extra); err == nil {
				t.Errorf("%s: decoded with %d bytes too many", g.name, extra)
			}
		}
	}
}

// decodeOrCorrupt decodes src and fails the test unless Decode succeeds or
// fails with ErrCorrupt; it returns the output buffer for reuse.
func decodeOrCorrupt(t *testing.T, d *Decoder, out, src []byte, size int) []byte {
	t.Helper()
	got, err := d.Decode(out[:0], src, size)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		return out
	}
	if len(got) != size {
		t.Fatalf("Decode returned %d bytes, want %d", len(got), size)
	}
	return got
}
