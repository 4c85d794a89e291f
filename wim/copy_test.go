package wim

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestCopyImageRecompress copies every image of a WIM into new WIMs in each
// codec, recompressing and with CopyOptions.Raw: the streams, trees and XML
// fields survive, and the boot index is set. With Raw, the streams in the
// WIM's own codec keep their stored bytes.
func TestCopyImageRecompress(t *testing.T) {
	path, _ := writeTestWIM(t, CompressXPRESS, 2)
	r := openTestWIM(t, path)
	for _, raw := range []bool{false, true} {
		for _, c := range []Compression{CompressNone, CompressXPRESS, CompressLZX} {
			t.Run(fmt.Sprintf("%v raw=%v", c, raw), func(t *testing.T) { testCopyImage(t, r, c, raw) })
		}
	}
}

// testCopyImage copies the images of r into a new WIM in codec c and
// checks the copy.
func testCopyImage(t *testing.T, r *Reader, c Compression, raw bool) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "copy.wim")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFile(t, f)
	w, err := NewWriter(f, WithCompression(c), WithBootIndex(2))
	if err != nil {
		t.Fatal(err)
	}
	var copied int64
	for i := 1; i <= r.ImageCount(); i++ {
		opts := CopyOptions{Raw: raw, Progress: func(n int64) { copied += n }}
		if err := CopyImageWith(t.Context(), w, r, i, opts); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r2 := openTestWIM(t, out)
	if err := r2.Verify(nil); err != nil {
		t.Fatal(err)
	}
	if h := r2.Header(); h.Compression != c || h.BootIndex != 2 || r2.ImageCount() != 2 {
		t.Fatalf("header %+v", h)
	}
	var total int64
	for _, b := range r.blobs {
		total += b.res.size
	}
	if copied != total {
		t.Errorf("progress reported %d bytes, want %d", copied, total)
	}
	for h, b := range r2.blobs {
		if old := r.blobs[h]; old != nil && raw && c == r.hdr.Compression && b.res.storedSize != old.res.storedSize {
			t.Errorf("blob %x: %d stored bytes, were %d: not copied as stored", h, b.res.storedSize, old.res.storedSize)
		}
	}
	for i := 1; i <= 2; i++ {
		a, b := r.Image(i), r2.Image(i)
		if a.Name != b.Name || a.Description != b.Description || a.CreationTime != b.CreationTime || a.FileCount != b.FileCount || a.TotalBytes != b.TotalBytes {
			t.Errorf("image %d info %+v, want %+v", i, b, a)
		}
		m1, _ := r.Metadata(i)
		m2, err := r2.Metadata(i)
		if err != nil {
			t.Fatal(err)
		}
		var p1, p2 bytes.Buffer
		_ = m1.Walk(func(p string, e *Entry) error { fmt.Fprintf(&p1, "%s %x\n", p, e.Data.Hash); return nil })
		_ = m2.Walk(func(p string, e *Entry) error { fmt.Fprintf(&p2, "%s %x\n", p, e.Data.Hash); return nil })
		if p1.String() != p2.String() {
			t.Errorf("image %d trees differ", i)
		}
	}
}
