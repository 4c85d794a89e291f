package snapshot

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/wimsnap/wimsnap/index"
)

// TestSigList: paths and signatures come back as added while the source
// buffer is reused and the list moves on to new blocks, including a path
// larger than a block and an empty one.
func TestSigList(t *testing.T) {
	var l sigList
	l.reserve(10)
	var want []index.FileSig
	buf := []byte{}
	for i := range 100000 {
		buf = strconv.AppendInt(buf[:0], int64(i), 10)
		buf = append(buf, "/some/path/of/a/file"...)
		s := index.Sig{Size: int64(i), Ino: uint64(i) * 3}
		l.add(buf, s)
		want = append(want, index.FileSig{Path: string(buf), Sig: s})
	}
	big := bytes.Repeat([]byte("x"), sigListBlock+1)
	for i, p := range [][]byte{big, nil, []byte("after")} {
		s := index.Sig{Mode: uint32(i)}
		l.add(p, s)
		want = append(want, index.FileSig{Path: string(p), Sig: s})
	}
	big[0] = 'y' // the source changes; the copy must not
	got := l.fileSigs()
	if len(got) != len(want) {
		t.Fatalf("%d signatures, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("signature %d: %.40q %+v, want %.40q %+v", i, got[i].Path, got[i].Sig, want[i].Path, want[i].Sig)
		}
	}
}
