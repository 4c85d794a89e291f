package snapshot

import (
	"crypto/sha256"
	"testing"

	"github.com/wimsnap/wimsnap/index"
)

// TestChunkID checks that the shortcut for chunks of zeros gives exactly
// the SHA-256 every other chunk gets: for a whole chunk of zeros, and not
// for a shorter run of zeros (a file's last chunk) or a chunk with one
// byte set, which must hash as they are.
func TestChunkID(t *testing.T) {
	oneSet := make([]byte, RepoChunkSize)
	oneSet[RepoChunkSize-1] = 1
	cases := []struct {
		name string
		b    []byte
	}{
		{"zeros", make([]byte, RepoChunkSize)},
		{"short zeros", make([]byte, RepoChunkSize-1)},
		{"one byte", make([]byte, 1)},
		{"last byte set", oneSet},
	}
	for _, tc := range cases {
		if got, want := chunkID(tc.b), index.ID(sha256.Sum256(tc.b)); got != want {
			t.Errorf("%s: chunkID %x, want SHA-256 %x", tc.name, got[:8], want[:8])
		}
	}
	if chunkID(oneSet) == zeroChunkID {
		t.Error("a chunk with a byte set got the id of zeros")
	}
}

// BenchmarkChunkID measures chunk ids of zeros (the shortcut) and of data
// (SHA-256 after a comparison that stops at the first byte).
func BenchmarkChunkID(b *testing.B) {
	data := make([]byte, RepoChunkSize)
	for i := range data {
		data[i] = byte(i*131 + 7)
	}
	for _, c := range []struct {
		name string
		b    []byte
	}{{"zeros", make([]byte, RepoChunkSize)}, {"data", data}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(RepoChunkSize)
			b.ReportAllocs()
			for b.Loop() {
				_ = chunkID(c.b)
			}
		})
	}
}
