package wim

import "testing"

// TestSolidLZMSReadAsDecoded: large LZMS chunks are read as they are
// decompressed, without a buffer for their compressed bytes.
func TestSolidLZMSReadAsDecoded(t *testing.T) {
	defer func(v int64) { maxPrefetchChunk = v }(maxPrefetchChunk)
	maxPrefetchChunk = 0
	_, r := readTestdata(t, "wimlib-solid-lzms.wim")
	if err := r.Verify(nil); err != nil {
		t.Fatal(err)
	}
	if r.solidDecoded.Load() == 0 {
		t.Fatal("no solid chunk decompressed")
	}
	if got := r.solidInputs.peak.Load(); got != 0 {
		t.Errorf("%d compressed chunks read whole, want 0", got)
	}
}
