package lzms

import (
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/corpus"
)

func benchRebuild(b *testing.B, n int, bits uint) {
	var cb codeBuilder
	c := newAdaptiveCode(n, 1024, bits, &cb)
	c.reset(n)
	r := corpus.Random(1, 4096)
	for i := range n {
		c.freqs[i] = uint32(r[i]) * uint32(r[i+1000]) / 64 / uint32(1+i%7)+1
	}
	b.ReportAllocs()
	for b.Loop() {
		c.build()
	}
}

func BenchmarkRebuild256(b *testing.B) { benchRebuild(b, 256, 10) }
func BenchmarkRebuild190(b *testing.B) { benchRebuild(b, 190, 11) }
func BenchmarkRebuild54(b *testing.B)  { benchRebuild(b, 54, 9) }
func BenchmarkLengths256(b *testing.B) {
	var cb codeBuilder
	freqs := make([]uint32, 256)
	lens := make([]uint8, 256)
	r := corpus.Random(1, 4096)
	for i := range freqs {
		freqs[i] = uint32(r[i]) * uint32(r[i+1000]) / 64 / uint32(1+i%7)+1
	}
	for b.Loop() {
		cb.codeLengths(freqs, lens)
	}
}
