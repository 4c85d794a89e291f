package wim

import "sync/atomic"

// solidInputs counts the compressed solid chunks whose bytes are in memory
// while they are decompressed, for tests: every codec but LZMS needs a
// chunk's bytes whole (in the pooled chunkState's buffer); LZMS reads a
// large chunk as it goes (chunkDecoderAt), so that an install.esd's 64
// MiB chunks never have their compressed bytes in memory whole. It is safe
// for concurrent use.
type solidInputs struct {
	busy, peak atomic.Int64 // compressed chunks in memory, now and at most
}

// take returns cs's buffer, sized for the stored bytes of compressed chunk
// k of sr, and the function to call once the chunk is decompressed.
func (in *solidInputs) take(sr *solidRes, k int64, cs *chunkState) (buf []byte, done func()) {
	_, stored, _ := sr.chunk(k)
	n := in.busy.Add(1)
	for p := in.peak.Load(); n > p && !in.peak.CompareAndSwap(p, n); p = in.peak.Load() {
	}
	if int64(cap(cs.in)) < stored {
		cs.in = make([]byte, stored)
	}
	return cs.in[:stored], func() { in.busy.Add(-1) }
}
