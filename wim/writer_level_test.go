package wim

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/wimsnap/wimsnap/wim/internal/corpus"
)

func TestWithCompressionLevelNegative(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "t.wim"))
	if err != nil {
		t.Fatal(err)
	}
	defer closeFile(t, f)
	if _, err := NewWriter(f, WithCompressionLevel(-1)); err == nil {
		t.Fatal("WithCompressionLevel(-1) accepted")
	}
}

// TestWithCompressionLevel writes the test images at several levels in
// every codec written: each WIM verifies and reads back.
func TestWithCompressionLevel(t *testing.T) {
	for _, c := range []Compression{CompressXPRESS, CompressLZX, CompressNone} {
		for _, level := range []int{0, 1, 20, 100} {
			path, want := writeTestWIM(t, c, 1, WithCompressionLevel(level))
			r := openTestWIM(t, path)
			if err := r.Verify(nil); err != nil {
				t.Fatalf("%v level %d: %v", c, level, err)
			}
			got, err := r.Metadata(1)
			if err != nil {
				t.Fatal(err)
			}
			diffTrees(t, got, want[0])
			checkContents(t, r, got)
		}
	}
}

// TestCompressionLevelReachesEncoder checks that XPRESS text at level 20
// (the fast encoder) takes more bytes than at the default, and at 100 no
// more.
func TestCompressionLevelReachesEncoder(t *testing.T) {
	text := corpus.Text(1, 1<<20)
	size := func(opts ...WriterOption) int64 {
		path := filepath.Join(t.TempDir(), "t.wim")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer closeFile(t, f)
		w, err := NewWriter(f, opts...)
		if err != nil {
			t.Fatal(err)
		}
		h, err := w.AddStream(bytes.NewReader(text), int64(len(text)))
		if err != nil {
			t.Fatal(err)
		}
		root := &Entry{Attributes: AttrDirectory, SecurityID: -1, Children: []*Entry{
			{Name: "a.txt", Attributes: AttrNormal, SecurityID: -1, Data: Stream{Hash: h, Size: int64(len(text))}}}}
		if err := w.AddImage(&Metadata{Root: root}, ImageInfo{Name: "text"}); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	def, quick, high := size(), size(WithCompressionLevel(20)), size(WithCompressionLevel(100))
	if quick <= def {
		t.Errorf("level 20: %d bytes, no more than the default's %d", quick, def)
	}
	if high > def {
		t.Errorf("level 100: %d bytes, more than the default's %d", high, def)
	}
}
