package wim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// readAll opens b as a WIM and reads everything a caller could: every
// image's metadata, every stream, and Verify. It returns the first error.
func readAll(b []byte) error {
	r, err := NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return err
	}
	return readImages(r)
}

// readImages reads every image of r, every stream they use, and verifies r.
func readImages(r *Reader) error {
	for i := 1; i <= r.ImageCount(); i++ {
		m, err := r.Metadata(i)
		if err != nil {
			return err
		}
		err = m.Walk(func(_ string, e *Entry) error {
			for _, s := range e.Streams() {
				rc, err := r.OpenStream(s.Hash)
				if err != nil {
					return err
				}
				_, err = io.Copy(io.Discard, rc)
				if err := errors.Join(err, rc.Close()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return r.Verify(nil)
}

func testWIMBytes(t *testing.T, c Compression) []byte {
	t.Helper()
	path, _ := writeTestWIM(t, c, 1, WithIntegrity(true))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTruncated cuts a valid WIM at many lengths: every cut must fail with
// an error (never a panic), because the tables live at the end.
func TestTruncated(t *testing.T) {
	b := testWIMBytes(t, CompressXPRESS)
	for n := 0; n < len(b); n += 1 + n/50 {
		if err := readAll(b[:n]); err == nil {
			t.Fatalf("WIM cut to %d of %d bytes read without error", n, len(b))
		}
	}
}

// TestFlippedByte flips one byte inside each resource of a valid WIM and
// expects an error naming a checksum or format problem.
func TestFlippedByte(t *testing.T) {
	for _, c := range []Compression{CompressNone, CompressXPRESS, CompressLZX} {
		b := testWIMBytes(t, c)
		r, err := NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		for _, bl := range r.sortedBlobs() {
			mid := bl.res.offset + bl.res.storedSize/2
			err := verifyFlipped(t, b, mid)
			if !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrFormat) {
				t.Errorf("%v: flipped byte at %d in blob %x: %v", c, mid, bl.hash, err)
			}
		}
	}
}

// TestAbsurdSizes plants huge sizes in the tables; the reader must refuse
// them without trying to allocate them.
func TestAbsurdSizes(t *testing.T) {
	b := testWIMBytes(t, CompressXPRESS)
	r, err := NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	cases := map[string]func(b []byte){
		"blob table size": func(b []byte) { le.PutUint64(b[0x30+16:], 1<<50); le.PutUint64(b[0x30:], 1<<50) },
		"xml size":        func(b []byte) { le.PutUint64(b[0x48+16:], 1<<40); le.PutUint64(b[0x48:], 1<<40) },
		"image count":     func(b []byte) { le.PutUint32(b[0x2C:], 1<<30) },
		"chunk size":      func(b []byte) { le.PutUint32(b[0x14:], 1<<31) },
		"metadata size": func(b []byte) {
			e := b[r.hdr.blobTable.offset:]
			le.PutUint64(e[16:], 1<<55)
		},
		"stream size": func(b []byte) {
			e := b[r.hdr.blobTable.offset+blobEntrySize:]
			le.PutUint64(e[16:], 1<<60)
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			bad := bytes.Clone(b)
			mutate(bad)
			if err := readAll(bad); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestMetadataHostile(t *testing.T) {
	le := binary.LittleEndian
	root := func(subdir uint64, extra ...byte) []byte {
		b := make([]byte, 8)
		le.PutUint32(b, 8)
		d := make([]byte, 104)
		le.PutUint64(d, 104)
		le.PutUint32(d[8:], AttrDirectory)
		le.PutUint64(d[0x10:], subdir)
		b = append(b, d...)
		return append(b, extra...)
	}
	cases := map[string][]byte{
		"empty":            {},
		"short security":   {8, 0, 0, 0},
		"huge security n":  {8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff},
		"root past end":    {200, 0, 0, 0, 0, 0, 0, 0},
		"cycle":            root(8),
		"subdir past end":  root(1 << 40),
		"root not dir":     func() []byte { b := root(0); le.PutUint32(b[16:], 0); return b }(),
		"dentry len short": func() []byte { b := root(0); le.PutUint64(b[8:], 20); return b }(),
		// Top bits set: out of range, not taken modulo 2^62 (104 here,
		// a whole dentry; 0, an end marker that dropped the rest, after
		// a first entry).
		"dentry len bit 62": func() []byte { b := root(0); le.PutUint64(b[8:], 104|1<<62); return b }(),
		"dentry len bit 63": func() []byte { b := root(0); le.PutUint64(b[8:], 104|1<<63); return b }(),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseMetadata(b); !errors.Is(err, ErrFormat) {
				t.Fatalf("got %v, want ErrFormat", err)
			}
		})
	}
}

// TestMetadataDroppedNames: a second entry of one name and one named ".."
// are left out, as wimlib leaves them, and counted in Dropped for the
// caller's warning, whether or not the siblings come in the order writers
// sort them in (which spares the parser a set of names).
func TestMetadataDroppedNames(t *testing.T) {
	cases := []struct {
		names [3]string // the three siblings, in the order written
		kept  []string
	}{
		{[3]string{"aa", "aa", ".."}, []string{"aa"}},
		{[3]string{"aa", "bb", "aa"}, []string{"aa", "bb"}},
		{[3]string{"bb", "aa", "bb"}, []string{"bb", "aa"}},
		{[3]string{"aA", "Aa", "aa"}, []string{"aA", "Aa", "aa"}}, // case counts
	}
	for _, c := range cases {
		m, err := ParseMetadata(siblingsAs(t, c.names))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range m.Root.Children {
			got = append(got, e.Name)
		}
		if !slices.Equal(got, c.kept) || m.Dropped != 3-len(c.kept) {
			t.Errorf("%q: kept %q, dropped %d; want %q", c.names, got, m.Dropped, c.kept)
		}
	}
}

// metadataBytes returns the metadata resource of the tree root.
func metadataBytes(tb testing.TB, root *Entry) []byte {
	tb.Helper()
	enc, _, err := (&Metadata{Root: root}).Encoder()
	if err != nil {
		tb.Fatal(err)
	}
	b, err := io.ReadAll(enc)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// siblingsAs returns a metadata resource whose root has three files
// named names, two UTF-16 units each, written in that order.
func siblingsAs(t *testing.T, names [3]string) []byte {
	t.Helper()
	root := &Entry{Attributes: AttrDirectory, SecurityID: -1}
	for _, n := range []string{"x1", "x2", "x3"} {
		root.Children = append(root.Children, &Entry{Name: n, Attributes: AttrNormal, SecurityID: -1})
	}
	b := metadataBytes(t, root)
	utf16le := func(s string) []byte { return []byte{s[0], 0, s[1], 0} }
	for i, n := range names {
		b = bytes.Replace(b, utf16le(root.Children[i].Name), utf16le(n), 1)
	}
	return b
}

// TestCompressedResourceInUncompressedWIM flags a blob's resource as
// compressed in a WIM whose header has no codec (chunk size 0): an error,
// not a division by zero (found by fuzzing).
func TestCompressedResourceInUncompressedWIM(t *testing.T) {
	b, r := readTestdata(t, "wimlib-none.wim")
	tab := r.hdr.blobTable.offset
	flagged := 0
	for i := int64(0); i < r.hdr.blobTable.size/blobEntrySize; i++ {
		if flags := &b[tab+i*blobEntrySize+7]; *flags&resMetadata == 0 {
			*flags |= resCompressed
			flagged++
		}
	}
	if flagged == 0 {
		t.Fatal("no data blob to flag")
	}
	if err := readAll(b); !errors.Is(err, ErrFormat) {
		t.Fatalf("got %v, want ErrFormat", err)
	}
}

// TestHostileSolid damages the solid resource of a wimlib WIM: its own
// header (size, chunk size, codec) and its chunk table. Each read fails
// with ErrFormat (or ErrChecksum), without a panic.
func TestHostileSolid(t *testing.T) {
	good, r := readTestdata(t, "wimlib-solid-xpress.wim")
	var res *solidRes
	for _, b := range r.blobs {
		if b.solid != nil {
			res = b.solid
		}
	}
	if res == nil || res.n < 2 {
		t.Fatalf("want a solid resource of several chunks, got %+v", res)
	}
	off := res.entry.offset
	le := binary.LittleEndian
	cases := map[string]func(b []byte){
		"size 2^62":          func(b []byte) { le.PutUint64(b[off:], 1<<62) },
		"size 0":             func(b []byte) { le.PutUint64(b[off:], 0) },
		"size one short":     func(b []byte) { le.PutUint64(b[off:], uint64(res.size-1)) },
		"chunk size 3":       func(b []byte) { le.PutUint32(b[off+8:], 3) },
		"chunk size 2^31":    func(b []byte) { le.PutUint32(b[off+8:], 1<<31) },
		"codec 9":            func(b []byte) { le.PutUint32(b[off+12:], 9) },
		"chunk 0 empty":      func(b []byte) { le.PutUint32(b[off+16:], 0) },
		"chunk 0 too large":  func(b []byte) { le.PutUint32(b[off+16:], uint32(res.chunkSize)+1) },
		"chunk 1 past end":   func(b []byte) { le.PutUint32(b[off+20:], 1<<30) },
		"chunk 0 bytes flip": func(b []byte) { b[res.dataStart()+5] ^= 0x20 },
	}
	for name, damage := range cases {
		b := bytes.Clone(good)
		damage(b)
		if err := readAll(b); !errors.Is(err, ErrFormat) && !errors.Is(err, ErrChecksum) {
			t.Errorf("%s: got %v, want ErrFormat or ErrChecksum", name, err)
		}
	}
}

// TestFlippedByteWimlib flips a byte in the middle of every resource of
// wimlib's LZX, LZMS and solid WIMs: verifying reports a checksum or format
// error that names a stream.
func TestFlippedByteWimlib(t *testing.T) {
	for _, name := range []string{"wimlib-lzx.wim", "wimlib-lzms.wim", "wimlib-solid-lzms.wim", "wimlib-solid-lzx.wim"} {
		b, r := readTestdata(t, name)
		mids := map[int64]bool{}
		for _, bl := range r.blobs {
			if s := bl.solid; s != nil {
				mids[s.dataStart()+(s.entry.offset+s.entry.storedSize-s.dataStart())/2] = true
			} else {
				mids[bl.res.offset+bl.res.storedSize/2] = true
			}
		}
		for mid := range mids {
			err := verifyFlipped(t, b, mid)
			if !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "blob ") {
				t.Errorf("%s: flipped byte at %d: %v", name, mid, err)
			}
		}
	}
}

// readTestdata returns the bytes of testdata/name and a Reader of them.
func readTestdata(t *testing.T, name string) ([]byte, *Reader) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return b, r
}

// verifyFlipped flips a byte at off in a copy of the WIM b and returns what
// verifying the copy reports; the copy must still open.
func verifyFlipped(t *testing.T, b []byte, off int64) error {
	t.Helper()
	bad := bytes.Clone(b)
	bad[off] ^= 0x40
	r, err := NewReader(bytes.NewReader(bad), int64(len(bad)))
	if err != nil {
		t.Fatal(err)
	}
	return r.Verify(nil)
}

// TestAppendResourcePastEnd: appending to a WIM whose blob table places a
// stream far past the end of the file (1 TiB) fails as malformed before
// writing anything; it once grew the file to that offset (and then hashed
// the hole for the integrity table).
func TestAppendResourcePastEnd(t *testing.T) {
	path, _ := writeTestWIM(t, CompressXPRESS, 1)
	b, r := readTestWIM(t, path)
	// The blob table's first entry after the metadata resource's.
	binary.LittleEndian.PutUint64(b[r.hdr.blobTable.offset+blobEntrySize+8:], 1<<40)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if _, _, err := OpenAppend(f); !errors.Is(err, ErrFormat) {
		t.Errorf("OpenAppend: %v, want ErrFormat", err)
	}
	if st, err := f.Stat(); err != nil || st.Size() != int64(len(b)) {
		t.Errorf("the file is now %d bytes, was %d (%v)", st.Size(), len(b), err)
	}
}

// rawDentry encodes a dentry by hand: attributes, subdirectory offset, a
// name, and a declared length (0: its own).
func rawDentry(name string, attrs uint32, subdir, length uint64) []byte {
	le := binary.LittleEndian
	d := make([]byte, dentryFixedSize)
	le.PutUint32(d[0x08:], attrs)
	le.PutUint32(d[0x0C:], 0xFFFFFFFF) // no security descriptor
	le.PutUint64(d[0x10:], subdir)
	u := utf16.Encode([]rune(name))
	le.PutUint16(d[0x64:], uint16(2*len(u)))
	for _, c := range u {
		d = le.AppendUint16(d, c)
	}
	if len(u) > 0 {
		d = append(d, 0, 0)
	}
	for len(d)%8 != 0 {
		d = append(d, 0)
	}
	if length == 0 {
		length = uint64(len(d))
	}
	le.PutUint64(d, length)
	return d
}

// TestMetadataOverlappingDentries: dentries nested inside one another,
// each reached from its own sibling list, each with a tagged item over the
// dentries inside it, once made the parser copy a quadratic number of
// bytes (a 952 KB WIM took 972 MB); dentries that span more bytes in all
// than the resource holds are now refused.
func TestMetadataOverlappingDentries(t *testing.T) {
	const k = 300
	le := binary.LittleEndian
	meta := []byte{8, 0, 0, 0, 0, 0, 0, 0} // empty security data
	rootLen := len(rawDentry("", AttrDirectory, 0, 0))
	level0 := int64(len(meta) + rootLen + 8)
	var dirs []byte
	for i := range k {
		dirs = append(dirs, rawDentry(fmt.Sprintf("d%d", i), AttrDirectory, 1, 0)...)
	}
	ladder := level0 + int64(len(dirs)) + 8
	const rung = 120       // a dentry (112 bytes) and its tagged item's header
	end := ladder + rung*k // the terminator after the last rung
	dirs = nil
	for i := range k {
		dirs = append(dirs, rawDentry(fmt.Sprintf("d%d", i), AttrDirectory, uint64(end-rung*int64(i+1)), 0)...)
	}
	meta = append(meta, rawDentry("", AttrDirectory, uint64(level0), 0)...)
	meta = append(meta, make([]byte, 8)...)
	meta = append(meta, dirs...)
	meta = append(meta, make([]byte, 8)...)
	for i := k; i > 0; i-- {
		d := rawDentry("a", AttrNormal, 0, uint64(rung*i))
		d = le.AppendUint32(d, 0x4242)
		d = le.AppendUint32(d, uint32(rung*(i-1)))
		meta = append(meta, d...)
	}
	meta = append(meta, make([]byte, 8)...)
	var err error
	n := testing.AllocsPerRun(1, func() { _, err = ParseMetadata(meta) })
	if !errors.Is(err, ErrFormat) {
		t.Errorf("ParseMetadata of %d bytes: %v (%v allocations), want ErrFormat", len(meta), err, n)
	}
}

// TestXMLManyTags: XML data of more tags than any WIM holds (empty
// elements, which decode into far more memory than they take) is refused;
// the XML of a WIM of 12,000 images is not.
func TestXMLManyTags(t *testing.T) {
	infos := make([]ImageInfo, 12000)
	for i := range infos {
		infos[i] = ImageInfo{Index: i + 1, Name: fmt.Sprint("image ", i+1), Description: "d"}
	}
	if _, err := parseXML(marshalXML(infos, 1, false), len(infos)); err != nil {
		t.Errorf("XML of %d images: %v", len(infos), err)
	}
	text := "<WIM>" + strings.Repeat("<a/>", maxXMLTags) + "</WIM>"
	u := utf16.Encode([]rune(text))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	if _, err := parseXML(b, 0); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "tags") {
		t.Errorf("parseXML of %d tags: %v, want ErrFormat", maxXMLTags+2, err)
	}
}

// TestAppendZeroRefCounts: appending to a WIM whose blob table counts the
// old image's blobs as unreferenced (wimlib reads such a file) keeps them;
// they were once left out of the new table, and the old image's files came
// out empty.
func TestAppendZeroRefCounts(t *testing.T) {
	path, want := writeTestWIM(t, CompressXPRESS, 1)
	b, r := readTestWIM(t, path)
	tab := b[r.hdr.blobTable.offset:][:r.hdr.blobTable.storedSize]
	zeroed := 0
	for e := tab; len(e) >= blobEntrySize; e = e[blobEntrySize:] {
		if e[7]&resMetadata == 0 {
			binary.LittleEndian.PutUint32(e[26:], 0)
			zeroed++
		}
	}
	if zeroed == 0 {
		t.Fatal("no data blob in the table")
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	w, _, err := OpenAppend(f)
	if err != nil {
		t.Fatal(err)
	}
	// An image that shares no blob with the old one.
	h, err := w.AddStream(strings.NewReader("new"), 3)
	if err != nil {
		t.Fatal(err)
	}
	root := &Entry{Attributes: AttrDirectory, SecurityID: -1, Children: []*Entry{{Name: "n", Attributes: AttrNormal, SecurityID: -1, Data: Stream{Hash: h}}}}
	if err := w.AddImage(&Metadata{Root: root}, ImageInfo{Name: "second"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	closeFile(t, f)
	r = openTestWIM(t, path)
	if err := r.Verify(nil); err != nil {
		t.Fatalf("verify after the append: %v", err)
	}
	m1, err := r.Metadata(1)
	if err != nil {
		t.Fatal(err)
	}
	diffTrees(t, m1, want[0])
}
