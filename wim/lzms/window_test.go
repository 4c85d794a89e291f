package lzms

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// TestDecodeAtWindows: DecodeAt, with windows small enough to move many
// times in a golden chunk, decodes what Decode does, and fails where
// Decode fails on flipped bytes and truncations.
func TestDecodeAtWindows(t *testing.T) {
	for _, size := range []int{2 * windowMargin, 1000, windowSize} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			d, at := NewDecoder(), NewDecoder()
			at.win.size = size
			for _, g := range goldenChunks(t) {
				same(t, d, at, g.comp, len(g.data))
				buf := make([]byte, len(g.comp))
				for i := range g.comp {
					copy(buf, g.comp)
					buf[i] ^= 0x5A
					same(t, d, at, buf, len(g.data))
					same(t, d, at, g.comp[:i], len(g.data))
				}
			}
		})
	}
}

// same checks that DecodeAt of src gives what Decode does.
func same(t *testing.T, d, at *Decoder, src []byte, size int) {
	t.Helper()
	want, werr := d.Decode(nil, src, size)
	got, err := at.DecodeAt([]byte("x"), bytes.NewReader(append([]byte("pre"), src...)), 3, int64(len(src)), size)
	if (err != nil) != (werr != nil) || err != nil && !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%d bytes: DecodeAt: %v, Decode: %v", len(src), err, werr)
	}
	if err == nil && (string(got[:1]) != "x" || !bytes.Equal(got[1:], want)) {
		t.Fatalf("%d bytes: DecodeAt and Decode differ", len(src))
	}
}

// TestDecodeAtReadError: a failed read is returned as itself, not as
// corrupt data.
func TestDecodeAtReadError(t *testing.T) {
	g := goldenChunks(t)[0]
	_, err := NewDecoder().DecodeAt(nil, bytes.NewReader(g.comp[:len(g.comp)/2]), 0, int64(len(g.comp)), len(g.data))
	if err == nil || errors.Is(err, ErrCorrupt) {
		t.Errorf("short reader: %v", err)
	}
}
