package xpress

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/corpus"
)

// pinnedCorpus returns deterministic inputs that reach every path of both
// parses: text, binary-like records, random data, runs and repeats, cut
// into chunks of the WIM default size and a few odd sizes.
func pinnedCorpus() [][]byte {
	var data [][]byte
	for _, src := range [][]byte{
		corpus.Text(11, 256<<10), corpus.Binary(12, 256<<10), corpus.Random(13, 64<<10),
		make([]byte, 40000), corpus.Repeat(3000, 100000),
		append(bytes.Repeat([]byte("ab"), 5000), corpus.Text(14, 30000)...),
	} {
		for len(src) > 0 {
			n := min(len(src), 32768)
			data = append(data, src[:n])
			src = src[n:]
		}
	}
	return append(data, []byte("abc"), corpus.Text(15, 777), corpus.Binary(16, MaxChunkSize))
}

// TestPinnedOutput: the exact compressed bytes of a fixed corpus, by a
// default and by a fast encoder, are pinned through a hash, so that work on
// the encoder's speed cannot change its output unnoticed. A deliberate
// change of output updates the hashes (the test prints the new ones).
func TestPinnedOutput(t *testing.T) {
	for _, tt := range []struct {
		name string
		enc  *Encoder
		want string
	}{
		{"default", NewEncoder(), "7968b4ec40a20d8953ad0e3aa9ea1aba667261d7816bbd876abb4d12be9e3279"},
		{"fast", NewFastEncoder(), "f75a7f173e5a72ee47e28d54ad12340a347081578ddf24ed08c19d4dd274655d"},
	} {
		h := sha256.New()
		total := 0
		for _, src := range pinnedCorpus() {
			c := tt.enc.encode(nil, src, true)
			total += len(c)
			h.Write(c)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != tt.want {
			t.Errorf("%s encoder: output of %d bytes hashes to %s, want %s", tt.name, total, got, tt.want)
		}
	}
}
