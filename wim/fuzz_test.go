package wim

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

// fuzzSeeds adds the WIMs this package writes and those in testdata (made
// by wimlib-imagex) as seeds. Inputs of their size (2 to 9 KiB) take Go's
// whole -fuzzminimizetime to shrink, a minute by default, during which no
// worker fuzzes: run the targets that use them as make fuzz does, with
// -fuzzminimizetime=1000x (see FUZZMINIMIZETIME in the Makefile).
func fuzzSeeds(f *testing.F) [][]byte {
	f.Helper()
	var seeds [][]byte
	for _, c := range []Compression{CompressNone, CompressXPRESS, CompressLZX} {
		seeds = append(seeds, smallWIM(f, c))
	}
	paths, _ := filepath.Glob("testdata/*.wim")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// smallWIM returns a WIM of a few small entries: fuzzing works best on
// inputs of a few KiB.
func smallWIM(tb testing.TB, c Compression) []byte {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "small.wim")
	out, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w, err := NewWriter(out, WithCompression(c), WithIntegrity(true))
	if err != nil {
		tb.Fatal(err)
	}
	text := bytes.Repeat([]byte("wimsnap fuzz seed "), 40)
	h1, _ := w.AddStream(bytes.NewReader(text), int64(len(text)))
	h2, _ := w.AddStream(bytes.NewReader([]byte("tiny")), 4)
	root := &Entry{Attributes: AttrDirectory, SecurityID: -1, Unix: &UnixData{Mode: 0o40755}, Children: []*Entry{
		{Name: "a", Attributes: AttrNormal, SecurityID: -1, Data: Stream{Hash: h1}, Xattrs: []Xattr{{Name: "user.x", Value: []byte("v")}}},
		{Name: "d", Attributes: AttrDirectory, SecurityID: -1, Children: []*Entry{
			{Name: "b", Attributes: AttrNormal, SecurityID: -1, Data: Stream{Hash: h2}, LinkID: 1},
			{Name: "c", Attributes: AttrNormal, SecurityID: -1, Data: Stream{Hash: h2}, LinkID: 1},
		}},
		{Name: "s", Attributes: AttrReparsePoint, SecurityID: -1, Ext: &EntryExt{ReparseTag: ReparseTagSymlink, Reparse: Stream{Hash: h2}}},
	}}
	if err := w.AddImage(&Metadata{Root: root}, ImageInfo{Name: "seed"}); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	closeFile(tb, out)
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// FuzzReader feeds whole files: header, blob table, XML, metadata, chunk
// tables and XPRESS data all come from the input.
func FuzzReader(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = readAll(b)
	})
}

// FuzzSplitSet feeds the two parts of a split WIM: each part's header,
// blob table and resources come from the input, and the streams of both
// are read through the first.
func FuzzSplitSet(f *testing.F) {
	for _, c := range []Compression{CompressNone, CompressXPRESS} {
		parts := splitSeed(f, smallWIM(f, c))
		f.Add(parts[0], parts[1])
		f.Add(parts[1], parts[0])
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		r, err := NewReader(bytes.NewReader(a), int64(len(a)))
		if err != nil {
			return
		}
		p, err := NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		if r.AddPart(p) == nil {
			_ = readImages(r)
		}
	})
}

// splitSeed splits the WIM b into two parts, which read back whole: it
// tries smaller part sizes until the split has two.
func splitSeed(tb testing.TB, b []byte) [][]byte {
	tb.Helper()
	r, err := NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		tb.Fatal(err)
	}
	for size := int64(len(b)); size > 0; size -= 32 {
		parts := splitParts(tb, r, size)
		if len(parts) != 2 {
			continue
		}
		first, err := NewReader(bytes.NewReader(parts[0]), int64(len(parts[0])))
		if err != nil {
			tb.Fatal(err)
		}
		second, err := NewReader(bytes.NewReader(parts[1]), int64(len(parts[1])))
		if err == nil {
			err = first.AddPart(second)
		}
		if err == nil {
			err = readImages(first)
		}
		if err != nil {
			tb.Fatalf("the seed parts do not read back: %v", err)
		}
		return parts
	}
	tb.Fatal("no part size splits the seed in two")
	return nil
}

// splitParts returns the parts of r split at size bytes.
func splitParts(tb testing.TB, r *Reader, size int64) [][]byte {
	tb.Helper()
	var files []*os.File
	var parts [][]byte
	_, err := WriteSplit(tb.Context(), r, size, false, func(k, _ int) (*os.File, error) {
		f, err := os.Create(filepath.Join(tb.TempDir(), fmt.Sprintf("part%d.swm", k)))
		files = append(files, f)
		return f, err
	}, nil)
	for _, f := range files {
		if err == nil {
			var p []byte
			p, err = os.ReadFile(f.Name())
			parts = append(parts, p)
		}
		closeFile(tb, f)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return parts
}

// FuzzParseMetadata feeds metadata resources.
func FuzzParseMetadata(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		r, err := NewReader(bytes.NewReader(s), int64(len(s)))
		if err != nil {
			continue
		}
		for _, m := range r.metas {
			if b, err := r.readBlob(m); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMetadata(b)
		if err != nil {
			return
		}
		// What parses must marshal and parse again to the same tree.
		out, err := m.Marshal()
		if err != nil {
			return
		}
		if _, err := ParseMetadata(out); err != nil {
			t.Fatalf("re-parse of marshalled metadata: %v", err)
		}
		// The streaming encoders give the same bytes, read in small pieces,
		// two of one layout at once.
		encs, size, err := m.Encoders(2)
		if err != nil {
			t.Fatalf("Encoders after Marshal: %v", err)
		}
		other := make(chan []byte)
		go func() {
			b, _ := io.ReadAll(iotest.OneByteReader(encs[1]))
			other <- b
		}()
		streamed, err := io.ReadAll(iotest.HalfReader(encs[0]))
		if err != nil || size != int64(len(out)) || !bytes.Equal(streamed, out) {
			t.Fatalf("Encoder: %d bytes of %d (%v), or bytes unlike Marshal's", len(streamed), size, err)
		}
		if !bytes.Equal(<-other, out) {
			t.Fatal("a second encoder of the same layout gives other bytes")
		}
	})
}

// FuzzParseXML feeds XML resources.
func FuzzParseXML(f *testing.F) {
	f.Add(marshalXML([]ImageInfo{{Name: "a", Description: "b"}}, 1234, false), 1)
	f.Add([]byte{0xff, 0xfe, '<', 0, 'W', 0}, 0)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		infos, err := parseXML(b, n)
		if err == nil && len(infos) != n {
			t.Fatalf("%d images parsed, %d expected", len(infos), n)
		}
		for i := range infos {
			if infos[i].Index != i+1 {
				t.Fatalf("image %d has index %d", i+1, infos[i].Index)
			}
		}
	})
}

// FuzzNameRoundTrip checks that every byte string survives the UTF-16 trip.
func FuzzNameRoundTrip(f *testing.F) {
	f.Add([]byte("plain"))
	f.Add([]byte("bad\xff\xfe"))
	f.Add([]byte("\xed\xb2\x80 and \xed\xa0\x80"))
	f.Add([]byte("\xed\xa0\x80\xed\xb0\x80\xed\xa0\x80\xff\xed\xbf\xbf"))
	f.Add([]byte("日本語 😀"))
	f.Fuzz(func(t *testing.T, b []byte) {
		units := encodeName(nil, string(b))
		if got := decodeName(units); got != string(b) {
			t.Fatalf("%q came back as %q", b, got)
		}
		// The byte form, appended after a prefix, is the units in order.
		want := []byte("pre")
		for _, u := range units {
			want = binary.LittleEndian.AppendUint16(want, u)
		}
		if got := appendNameUTF16LE([]byte("pre"), string(b)); !bytes.Equal(got, want) {
			t.Fatalf("%q: UTF-16LE bytes %x, want %x", b, got, want)
		}
	})
}
