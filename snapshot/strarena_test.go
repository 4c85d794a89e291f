package snapshot

import (
	"bytes"
	"strconv"
	"testing"
)

// TestStrArena: strings keep their contents while the source buffer is
// reused and the arena moves on to new blocks, including a string larger
// than a block.
func TestStrArena(t *testing.T) {
	var a strArena
	var got []string
	var want []string
	buf := []byte{}
	for i := range 100000 {
		buf = strconv.AppendInt(buf[:0], int64(i), 10)
		buf = append(buf, "/some/path/of/a/file"...)
		got = append(got, a.str(buf))
		want = append(want, string(buf))
	}
	big := bytes.Repeat([]byte("x"), strArenaBlock+1)
	got = append(got, a.str(big), a.str(nil), a.str([]byte("after")))
	want = append(want, string(big), "", "after")
	big[0] = 'y' // the source changes; the copy must not
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("string %d changed: %.40q, want %.40q", i, got[i], want[i])
		}
	}
}
