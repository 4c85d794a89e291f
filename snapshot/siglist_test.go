package snapshot

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/index"
)

// TestSigList: files come back in path order with their signatures, or
// as kept, while the source buffer is reused, the walk comes back to a
// directory after a subdirectory, names sort across directories (a/b-x
// before a/b/c: '-' is below '/'), and the list moves on to new blocks,
// including a path larger than a block and an empty one.
func TestSigList(t *testing.T) {
	type file struct {
		path string
		sig  index.Sig
		kept bool
	}
	var l sigList
	l.reserve(10)
	var want []file
	add := func(p []byte, s index.Sig, kept bool) {
		l.add(p, s, kept)
		if kept {
			s = index.Sig{}
		}
		want = append(want, file{string(p), s, kept})
	}
	buf := []byte{}
	for i := range 100000 {
		buf = strconv.AppendInt(buf[:0], int64(i/7), 10)
		buf = append(buf, "/some/dir/file"...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		add(buf, index.Sig{Size: int64(i), Ino: uint64(i) * 3}, i%3 == 0)
	}
	for i, p := range []string{"a/b-x", "a/b/c", "a/b/d", "a/b-y", "a/z", "x", "a/b", "a/b/c/d", "ab"} {
		add([]byte(p), index.Sig{Mode: uint32(i)}, i == 2)
	}
	big := bytes.Repeat([]byte("x"), index.MaxFilePath-2) // the longest stored, with "/y"
	for i, p := range [][]byte{big, append(slices.Clone(big), "/y"...), nil, []byte("after")} {
		add(p, index.Sig{Mode: uint32(i)}, false)
	}
	big[0] = 'y' // the source changes; the copy must not
	got := l.sorted()
	slices.SortFunc(want, func(a, b file) int { return strings.Compare(a.path, b.path) })
	if got.Len() != len(want) {
		t.Fatalf("%d signatures, want %d", got.Len(), len(want))
	}
	for i, w := range want {
		if p, s, kept := got.At(i); string(p) != w.path || s != w.sig || kept != w.kept {
			t.Fatalf("file %d: %.40q %+v %v, want %.40q %+v %v", i, p, s, kept, w.path, w.sig, w.kept)
		}
	}
}

// TestCompareJoined: comparing two strings given in two parts each agrees
// with comparing them joined, wherever the parts split them.
func TestCompareJoined(t *testing.T) {
	words := []string{"", "a", "a/", "a/b", "a-", "ab", "b", "a/b/c"}
	for _, x := range words {
		for _, y := range words {
			for _, u := range words {
				for _, v := range words {
					want := strings.Compare(x+y, u+v)
					if got := compareJoined([]byte(x), []byte(y), []byte(u), []byte(v)); got != want {
						t.Fatalf("%q+%q vs %q+%q: %d, want %d", x, y, u, v, got, want)
					}
				}
			}
		}
	}
}

// TestSigListLongPath: a path longer than the index stores is left out
// (its file is read by every snapshot), where it failed the whole update
// of the local index ("key too large") after each snapshot.
func TestSigListLongPath(t *testing.T) {
	var l sigList
	long := bytes.Repeat([]byte("d/"), index.MaxFilePath/2) // one byte over with the name
	l.add(append(long, 'f'), index.Sig{}, false)
	l.add([]byte("a/short"), index.Sig{}, false)
	if l.Len() != 1 {
		t.Fatalf("%d records, want only the short path's", l.Len())
	}
	if p, _, _ := l.At(0); string(p) != "a/short" {
		t.Errorf("record %q", p)
	}
}
