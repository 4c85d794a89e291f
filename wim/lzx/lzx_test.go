package lzx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/codectest"
	"github.com/wimsnap/wimsnap/wim/internal/corpus"
)

// roundTrip encodes src with e, checks that d decodes it back and returns
// the compressed form: the bit stream even where it does not shrink src, so
// that every input tests it. It also checks that Encode gives that stream,
// or src itself.
func roundTrip(t testing.TB, e *Encoder, d *Decoder, src []byte) []byte {
	t.Helper()
	stream := func(dst, src []byte) []byte { return e.encode(dst, src, true) }
	comp := codectest.RoundTrip(t, stream, d.Decode, src)
	if got := e.Encode(nil, src); !bytes.Equal(got, comp) && !bytes.Equal(got, src) {
		t.Fatalf("Encode of %d bytes: %d bytes, neither the stream (%d bytes) nor the input", len(src), len(got), len(comp))
	}
	return comp
}

// TestEncodeIncompressible checks that random chunks come back as
// themselves, without a second parse, and that compressible ones
// do not.
func TestEncodeIncompressible(t *testing.T) {
	e, _ := NewEncoder(32768)
	prefix := []byte("prefix")
	for i, n := range []int{100, 5000, 32768} {
		src := corpus.Random(uint64(i), n)
		if got := e.Encode(prefix, src); !bytes.Equal(got[len(prefix):], src) {
			t.Errorf("%d random bytes: Encode gave %d bytes, not the input itself", n, len(got)-len(prefix))
		}
	}
	for name, src := range inputs(32768) {
		if name == "random" {
			continue
		}
		if got := e.Encode(nil, src); len(got) >= len(src) {
			t.Errorf("%s: Encode gave %d bytes of %d", name, len(got), len(src))
		}
	}
}

// inputs returns named test chunks of up to n bytes.
func inputs(n int) map[string][]byte {
	files := corpus.Files("/usr/bin", n)
	if len(files) < n {
		files = append(files, corpus.Binary(5, n-len(files))...)
	}
	e8 := bytes.Repeat([]byte{0xE8, 0, 0, 0, 0, 0xE8, 0xff, 0xff, 0xff, 0x7f, 0xE8}, n/11+1)[:n]
	return map[string][]byte{
		"text":   corpus.Text(1, n),
		"binary": corpus.Binary(2, n),
		"files":  files,
		"zeros":  make([]byte, n),
		"random": corpus.Random(3, n),
		"repeat": corpus.Repeat(1000, n),
		"period": corpus.Repeat(3, n),
		"e8":     e8,
	}
}

func TestRoundTrip(t *testing.T) {
	for _, chunkSize := range []int{MinChunkSize, 1 << 17, MaxChunkSize} {
		e, err := NewEncoder(chunkSize)
		if err != nil {
			t.Fatal(err)
		}
		d, err := NewDecoder(chunkSize)
		if err != nil {
			t.Fatal(err)
		}
		for name, data := range inputs(chunkSize) {
			for _, n := range []int{len(data), len(data) - 1, 32768, 1000, 11, 10, 3, 2, 1} {
				t.Run(fmt.Sprintf("%d/%s/%d", chunkSize, name, n), func(t *testing.T) {
					comp := roundTrip(t, e, d, data[:n])
					if name == "zeros" && n > 1000 && len(comp) > n/20 {
						t.Errorf("%d zeros compressed to %d bytes", n, len(comp))
					}
				})
			}
		}
	}
}

func TestEncodeEmpty(t *testing.T) {
	e, _ := NewEncoder(MinChunkSize)
	if out := e.Encode([]byte("x"), nil); string(out) != "x" {
		t.Fatalf("Encode(nil) = %q", out)
	}
}

// uncompressedBlock returns a chunk holding data as one uncompressed block
// (repeated offsets 1, 2, 3), as WIMGAPI may write it.
func uncompressedBlock(data []byte) []byte {
	w := bitWriter{}
	w.put(blockUncompressed, 3)
	if len(data) == defaultBlock {
		w.put(1, 1)
	} else {
		w.put(0, 1)
		w.put(uint32(len(data)), 16)
	}
	// Pad to the next 16-bit boundary: a whole word when already there.
	w.put(0, 16-w.n)
	out := w.out
	for _, r := range []uint32{1, 2, 3} {
		out = binary.LittleEndian.AppendUint32(out, r)
	}
	out = append(out, data...)
	if len(data)%2 == 1 {
		out = append(out, 0)
	}
	return out
}

// TestUncompressedBlocks decodes hand-built uncompressed blocks (odd and
// even sizes, E8 bytes inside, which are translated) and one followed by a
// verbatim block that uses its repeated offsets.
func TestUncompressedBlocks(t *testing.T) {
	d, _ := NewDecoder(MinChunkSize)
	for _, data := range [][]byte{[]byte("odd"), []byte("even"), corpus.Text(3, 32768), corpus.Text(4, 1001)} {
		got, err := d.Decode(nil, uncompressedBlock(data), len(data))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: err %v, equal %v", len(data), err, bytes.Equal(got, data))
		}
	}
	// E8 translation applies to uncompressed blocks too: an absolute
	// target 100 at position 0 decodes to the relative 100.
	e8 := append([]byte{0xE8, 100, 0, 0, 0}, make([]byte, 20)...)
	got, err := d.Decode(nil, uncompressedBlock(e8), len(e8))
	if err != nil || got[1] != 100 {
		t.Fatalf("E8 at 0: %v %x", err, got[:5])
	}
	e8[0], e8[1], e8[5], e8[6] = 0, 0, 0xE8, 100 // at position 5: 100 - 5
	got, err = d.Decode(nil, uncompressedBlock(e8), len(e8))
	if err != nil || got[6] != 95 {
		t.Fatalf("E8 at 5: %v %x", err, got[5:10])
	}
}

// TestDecodeCorrupt checks that damaged chunks fail cleanly.
func TestDecodeCorrupt(t *testing.T) {
	e, _ := NewEncoder(MinChunkSize)
	d, _ := NewDecoder(MinChunkSize)
	src := corpus.Text(5, 20000)
	good := e.Encode(nil, src)
	cases := map[string]struct {
		comp []byte
		size int
	}{
		"truncated":      {good[:len(good)/2], len(src)},
		"empty":          {nil, len(src)},
		"size too large": {good, len(src) + 1000},
		"size over max":  {good, MinChunkSize + 1},
		"bad block type": {[]byte{0, 0, 0, 0}, 10},
	}
	for name, c := range cases {
		if _, err := d.Decode(nil, c.comp, c.size); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
	}
	// A flipped byte fails to decode or changes the output (which a WIM
	// reports through the stream's SHA-1), except rarely when it only
	// changes a match offset to one that points at identical bytes.
	same := 0
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 0x55
		if got, err := d.Decode(nil, bad, len(src)); err == nil && bytes.Equal(got, src) {
			same++
		}
	}
	if same > len(good)/100 {
		t.Errorf("%d of %d flips decoded to the original", same, len(good))
	}
}

// TestAllocs checks that a warmed-up Encoder and Decoder allocate nothing
// per chunk when dst has room.
func TestAllocs(t *testing.T) {
	e, _ := NewEncoder(MinChunkSize)
	d, _ := NewDecoder(MinChunkSize)
	src := corpus.Binary(7, MinChunkSize)
	dst := make([]byte, 0, 2*MinChunkSize)
	comp := bytes.Clone(e.Encode(dst[:0], src))
	out := make([]byte, 0, MinChunkSize)
	if n := testing.AllocsPerRun(5, func() { e.Encode(dst[:0], src) }); n != 0 {
		t.Errorf("Encode allocated %v times per chunk", n)
	}
	if n := testing.AllocsPerRun(5, func() { _, _ = d.Decode(out[:0], comp, len(src)) }); n != 0 {
		t.Errorf("Decode allocated %v times per chunk", n)
	}
}
