package wim

import (
	"sync"
	"sync/atomic"
)

// solidInputs holds the compressed bytes of solid chunks while they are
// decompressed by a codec that needs them whole (all but LZMS, which reads
// them as it goes: chunkDecoderAt). Large chunks (of resources whose chunk
// size is more than maxPrefetchChunk bytes) are decompressed one at a
// time, through one buffer that lives as long as the Reader: readers that
// want several at once (apply's workers and the chunk read ahead for them)
// would otherwise each hold a chunk's compressed bytes, up to its size, on
// top of the decompressed chunks the cache bounds. Small chunks use the
// pooled chunkState's buffer and do not wait. It is safe for concurrent use.
type solidInputs struct {
	mu  sync.Mutex // held while a large chunk's bytes are in buf
	buf []byte

	busy, peak atomic.Int64 // compressed chunks in memory, now and at most, for tests
}

// take returns a buffer of stored bytes for the compressed chunk k of sr,
// waiting while another large chunk is being decompressed, and the
// function that gives it back, which is to be called once the chunk is
// decompressed.
func (in *solidInputs) take(sr *solidRes, k int64, cs *chunkState) (buf []byte, done func()) {
	_, stored, _ := sr.chunk(k)
	if sr.chunkSize <= maxPrefetchChunk {
		in.count()
		if int64(cap(cs.in)) < stored {
			cs.in = make([]byte, stored)
		}
		return cs.in[:stored], func() { in.busy.Add(-1) }
	}
	in.mu.Lock()
	in.count()
	if int64(cap(in.buf)) < stored {
		in.buf = nil // let the smaller one go first
		in.buf = make([]byte, max(stored, sr.maxStored))
	}
	return in.buf[:stored], func() {
		in.busy.Add(-1)
		in.mu.Unlock()
	}
}

// count adds a chunk to busy and keeps peak.
func (in *solidInputs) count() {
	n := in.busy.Add(1)
	for {
		p := in.peak.Load()
		if n <= p || in.peak.CompareAndSwap(p, n) {
			return
		}
	}
}
