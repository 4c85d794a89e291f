package wim

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testImage builds a tree with every field the format carries, storing
// stream contents through w.
func testImage(t *testing.T, w *Writer, seed uint64) *Metadata {
	t.Helper()
	rnd := rand.New(rand.NewPCG(seed, 1))
	add := func(b []byte) Stream {
		h, err := w.AddStream(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		return Stream{Hash: h, Size: int64(len(b))}
	}
	random := make([]byte, 100000)
	for i := range random {
		random[i] = byte(rnd.IntN(256))
	}
	text := []byte(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 3000))
	ft := Filetime(133700000000000000 + rnd.Uint64N(1e9))
	file := func(name string, s Stream) *Entry {
		return &Entry{Name: name, Attributes: AttrNormal, SecurityID: -1, CreationTime: ft, LastWriteTime: ft + 1, LastAccessTime: ft + 2,
			Data: s, Unix: &UnixData{UID: 1000, GID: 100, Mode: 0o100644}}
	}
	link1, link2 := file("link1", add(text[:5000])), file("link2", add(text[:5000]))
	link1.LinkID, link2.LinkID = 7, 7
	sym := &Entry{Name: "sym", Attributes: AttrReparsePoint, SecurityID: 0, LastWriteTime: ft, Unix: &UnixData{Mode: 0o120777},
		Ext: &EntryExt{ReparseTag: ReparseTagSymlink, ReparseFlags: ReparseNotFixed, Reparse: add([]byte("0123456789abcdefreparse"))}}
	symdir := &Entry{Name: "symdir", Attributes: AttrReparsePoint | AttrDirectory, SecurityID: -1, LastWriteTime: ft,
		Ext: &EntryExt{ReparseTag: ReparseTagSymlink, Reparse: add([]byte("dirlink data......"))}}
	ads := file("ads.txt", add([]byte("main data")))
	ads.Ext = &EntryExt{
		ShortName: "ADS~1.TXT",
		Named:     []Stream{add([]byte("stream one")), {Name: "empty"}},
		ObjectID:  bytes.Repeat([]byte{9}, 64),
		Other:     []TaggedItem{{Tag: 0x12345678, Data: []byte{1, 2, 3}}},
	}
	ads.Ext.Named[0].Name = "one"
	ads.Xattrs = []Xattr{{Name: "user.a", Value: []byte{0, 1, 2}}, {Name: "trusted.b", Value: nil, Flags: 0x80}}
	fifo := &Entry{Name: "fifo", SecurityID: -1, Unix: &UnixData{Mode: 0o10644}, LastWriteTime: ft}
	dev := &Entry{Name: "null", SecurityID: -1, Unix: &UnixData{Mode: 0o20666, Rdev: 0x0103}, LastWriteTime: ft}
	deep := &Entry{Name: "d0", Attributes: AttrDirectory, SecurityID: -1}
	cur := deep
	for i := 1; i < 30; i++ {
		n := &Entry{Name: "d" + strings.Repeat("x", i), Attributes: AttrDirectory, SecurityID: -1}
		cur.Children = []*Entry{n}
		cur = n
	}
	cur.Children = []*Entry{file("leaf", add(random[:40000]))}
	root := &Entry{Attributes: AttrDirectory, SecurityID: -1, LastWriteTime: ft, Unix: &UnixData{Mode: 0o40755}}
	root.Children = []*Entry{
		file("a.txt", add([]byte("hello\n"))), file("B.txt", add([]byte("hello\n"))), file("b.txt", add(text)),
		file("random.bin", add(random)), file("empty", Stream{}), file("日本語 😀", add([]byte("unicode"))),
		file("bad\xff\xfename", add([]byte("not utf-8"))), file(`odd:na\me*?`, add([]byte("odd"))),
		file(strings.Repeat("L", 255), add([]byte("long"))),
		link1, link2, sym, symdir, ads, fifo, dev, deep,
		{Name: "emptydir", Attributes: AttrDirectory | AttrHidden, SecurityID: 1},
	}
	return &Metadata{Security: [][]byte{{1, 0, 4, 0x80, 5, 6, 7}, bytes.Repeat([]byte{3}, 20)}, Root: root}
}

// writeTestWIM writes one or more test images and returns the file path.
func writeTestWIM(t *testing.T, c Compression, images int, opts ...WriterOption) (string, []*Metadata) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.wim")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f, append([]WriterOption{WithCompression(c), WithNow(func() time.Time { return time.Unix(1700000000, 0) })}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	var ms []*Metadata
	for i := range images {
		m := testImage(t, w, uint64(i))
		if err := w.AddImage(m, ImageInfo{Name: "img" + string(rune('A'+i)), Description: "d & <x>", Creator: "me", Version: "1.2"}); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	closeFile(t, f)
	return path, ms
}

// closeFile closes f, which the test wrote, and fails the test if that
// fails.
func closeFile(t testing.TB, f *os.File) {
	t.Helper()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func openTestWIM(t *testing.T, path string) *Reader {
	t.Helper()
	_, r := readTestWIM(t, path)
	return r
}

// readTestWIM returns the bytes of the WIM at path and a Reader of them.
func readTestWIM(t *testing.T, path string) ([]byte, *Reader) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return b, r
}

func TestRoundTrip(t *testing.T) {
	for _, c := range []Compression{CompressNone, CompressXPRESS, CompressLZX} {
		t.Run(c.String(), func(t *testing.T) {
			path, want := writeTestWIM(t, c, 2, WithIntegrity(true))
			r := openTestWIM(t, path)
			if r.Header().Compression != c || r.ImageCount() != 2 || !r.Header().HasIntegrity {
				t.Fatalf("header %+v", r.Header())
			}
			if err := r.Verify(nil); err != nil {
				t.Fatal(err)
			}
			for i, m := range want {
				got, err := r.Metadata(i + 1)
				if err != nil {
					t.Fatal(err)
				}
				diffTrees(t, got, m)
				checkContents(t, r, got)
			}
			info := r.Image(1)
			if info.Name != "imgA" || info.Description != "d & <x>" || info.Creator != "me" || info.Version != "1.2" || info.DirCount != 32 || info.FileCount != 17 {
				t.Errorf("image info %+v", info)
			}
			if info.HardLinkBytes != 5000 {
				t.Errorf("hard link bytes %d, want 5000", info.HardLinkBytes)
			}
		})
	}
}

// checkContents reads every stream and checks the sizes the table gives.
func checkContents(t *testing.T, r *Reader, m *Metadata) {
	t.Helper()
	err := m.Walk(func(path string, e *Entry) error {
		for _, s := range e.Streams() {
			rc, err := r.OpenStream(s.Hash)
			if err != nil {
				return err
			}
			n, err := io.Copy(io.Discard, rc)
			if err := errors.Join(err, rc.Close()); err != nil {
				return err
			}
			if n != s.Size {
				t.Errorf("%s: read %d bytes, size %d", path, n, s.Size)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// diffTrees reports every entry whose fields differ between two trees.
func diffTrees(t *testing.T, got, want *Metadata) {
	t.Helper()
	if !reflect.DeepEqual(got.Security, want.Security) {
		t.Errorf("security data differs: got %v want %v", got.Security, want.Security)
	}
	flat := func(m *Metadata) map[string]Entry {
		out := map[string]Entry{}
		_ = m.Walk(func(p string, e *Entry) error {
			c := *e
			c.Children = nil
			out[p] = c
			return nil
		})
		return out
	}
	g, w := flat(got), flat(want)
	for p, we := range w {
		if ge, ok := g[p]; !ok {
			t.Errorf("%q missing", p)
		} else if !reflect.DeepEqual(ge, we) {
			t.Errorf("%q differs:\n got %+v\nwant %+v", p, ge, we)
		}
	}
	for p := range g {
		if _, ok := w[p]; !ok {
			t.Errorf("%q unexpected", p)
		}
	}
}

func TestDedupAndRefcounts(t *testing.T) {
	path, _ := writeTestWIM(t, CompressXPRESS, 2)
	r := openTestWIM(t, path)
	m, err := r.Metadata(1)
	if err != nil {
		t.Fatal(err)
	}
	var hello Hash
	for _, c := range m.Root.Children {
		if c.Name == "a.txt" {
			hello = c.Data.Hash
		}
	}
	// a.txt and B.txt in each of two images: 4 references, one blob.
	if got := r.blobs[hello].refCount; got != 4 {
		t.Errorf("refcount of shared blob %d, want 4", got)
	}
	if n := len(r.blobs); n != 15 {
		t.Errorf("%d blobs, want 15 distinct non-empty streams", n)
	}
}

func TestAppendKeepsOldImages(t *testing.T) {
	path, want := writeTestWIM(t, CompressXPRESS, 1)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	w, old, err := OpenAppend(f)
	if err != nil {
		t.Fatal(err)
	}
	oldM, err := old.Metadata(1)
	if err != nil {
		t.Fatal(err)
	}
	if !w.HasStream(oldM.Root.Children[0].Data.Hash) {
		t.Fatal("appender does not know the old blobs")
	}
	if err := w.AddImage(&Metadata{Root: oldM.Root}, ImageInfo{Name: "imgA"}); err == nil {
		t.Fatal("duplicate image name accepted")
	}
	if err := w.AddImage(&Metadata{Root: oldM.Root, Security: oldM.Security}, ImageInfo{Name: "second"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	closeFile(t, f)
	r := openTestWIM(t, path)
	if err := r.Verify(nil); err != nil {
		t.Fatal(err)
	}
	if r.ImageCount() != 2 || r.Image(1).Name != "imgA" || r.Image(2).Name != "second" {
		t.Fatalf("images %+v", r.Images())
	}
	m2, err := r.Metadata(2)
	if err != nil {
		t.Fatal(err)
	}
	diffTrees(t, m2, want[0])
}

func TestShortStreamIsSizeChanged(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "x.wim"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddStream(strings.NewReader(strings.Repeat("x", 100000)), 200000); !errors.Is(err, ErrSizeChanged) {
		t.Fatalf("short stream: %v, want ErrSizeChanged", err)
	}
	h, err := w.AddStream(strings.NewReader("fine"), 4)
	if err != nil {
		t.Fatal(err)
	}
	root := &Entry{Attributes: AttrDirectory, SecurityID: -1, Children: []*Entry{{Name: "f", Attributes: AttrNormal, SecurityID: -1, Data: Stream{Hash: h}}}}
	if err := w.AddImage(&Metadata{Root: root}, ImageInfo{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	closeFile(t, f)
	r := openTestWIM(t, f.Name())
	if err := r.Verify(nil); err != nil {
		t.Fatal(err)
	}
}

func TestMissingStreamRejected(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "x.wim"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	root := &Entry{Attributes: AttrDirectory, SecurityID: -1, Children: []*Entry{{Name: "f", Attributes: AttrNormal, SecurityID: -1, Data: Stream{Hash: Hash{1}}}}}
	if err := w.AddImage(&Metadata{Root: root}, ImageInfo{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("dangling stream: %v, want ErrNotFound", err)
	}
	closeFile(t, f)
}

// TestAbortRestoresAppendedFile: an append that is aborted after writing
// data leaves the file byte for byte as it was.
func TestAbortRestoresAppendedFile(t *testing.T) {
	a := openTestAppend(t)
	w, f := a.w, a.f
	data := bytes.Repeat([]byte("new data "), 100000)
	if _, err := w.AddStream(bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddStream(bytes.NewReader(data), int64(len(data))); err == nil {
		t.Error("AddStream after Abort succeeded")
	}
	closeFile(t, f)
	a.wantUnchanged(t, "an aborted append")
}

// TestCloseCancelledInIntegrity: a Close given up while it hashes the file
// for the integrity table fails with the context's error, and an append
// leaves the file byte for byte as it was.
func TestCloseCancelledInIntegrity(t *testing.T) {
	a := openTestAppend(t, WithIntegrity(true))
	m, err := a.r.Metadata(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.w.AddImage(m, ImageInfo{Name: "again"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := a.w.CloseContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("CloseContext with a cancelled context: %v", err)
	}
	closeFile(t, a.f)
	a.wantUnchanged(t, "a cancelled append")
}

// testAppend is an append opened on a one-image test WIM, with the file's
// bytes before it.
type testAppend struct {
	path   string
	before []byte
	f      *os.File
	w      *Writer
	r      *Reader
}

func openTestAppend(t *testing.T, opts ...WriterOption) testAppend {
	t.Helper()
	a := testAppend{}
	a.path, _ = writeTestWIM(t, CompressXPRESS, 1)
	var err error
	if a.before, err = os.ReadFile(a.path); err != nil {
		t.Fatal(err)
	}
	if a.f, err = os.OpenFile(a.path, os.O_RDWR, 0); err != nil {
		t.Fatal(err)
	}
	if a.w, a.r, err = OpenAppend(a.f, opts...); err != nil {
		t.Fatal(err)
	}
	return a
}

// wantUnchanged fails the test unless the file holds its bytes from before
// the append.
func (a testAppend) wantUnchanged(t *testing.T, what string) {
	t.Helper()
	after, err := os.ReadFile(a.path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.before, after) {
		t.Fatalf("file changed by %s: %d bytes before, %d after", what, len(a.before), len(after))
	}
}
