package wim

import (
	"bytes"
	"crypto/sha1"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestAddStoredStream writes, in a compressed WIM, streams stored without
// compression (one chunk and several) beside a compressed one: their
// resources have COMPRESSED clear and no chunk table, the compressed
// stream's do not, a stored duplicate of the compressed stream keeps its
// first form, and all read back.
func TestAddStoredStream(t *testing.T) {
	for _, c := range []Compression{CompressXPRESS, CompressLZX, CompressNone} {
		t.Run(c.String(), func(t *testing.T) {
			packed := bytes.Repeat([]byte("compress me "), 9000)
			streams := map[string][]byte{
				"packed": packed,
				"small":  bytes.Repeat([]byte("a small stored stream "), 100),
				"large":  bytes.Repeat([]byte("a large stored stream "), 10000),
			}
			path := filepath.Join(t.TempDir(), "stored.wim")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer closeFile(t, f)
			w, err := NewWriter(f, WithCompression(c))
			if err != nil {
				t.Fatal(err)
			}
			root := &Entry{Attributes: AttrDirectory, SecurityID: -1}
			add := func(name string, stored bool) {
				t.Helper()
				s := streams[name]
				add := w.AddStream
				if stored {
					add = w.AddStoredStream
				}
				h, err := add(bytes.NewReader(s), int64(len(s)))
				if err != nil || h != Hash(sha1.Sum(s)) {
					t.Fatalf("%s: hash %x, %v", name, h, err)
				}
				root.Children = append(root.Children, &Entry{Name: name, Attributes: AttrNormal,
					SecurityID: -1, Data: Stream{Hash: h, Size: int64(len(s))}})
			}
			add("packed", false)
			add("small", true)
			add("large", true)
			add("packed", true) // a duplicate: stored once, compressed
			root.Children = root.Children[:3]
			if err := w.AddImage(&Metadata{Root: root}, ImageInfo{Name: "stored"}); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			r := openTestWIM(t, path)
			if err := r.Verify(nil); err != nil {
				t.Fatal(err)
			}
			for name, s := range streams {
				b := r.blobs[Hash(sha1.Sum(s))]
				wantZ := name == "packed" && c != CompressNone
				if gotZ := b.res.flags&resCompressed != 0; gotZ != wantZ || !gotZ && b.res.storedSize != int64(len(s)) {
					t.Errorf("%s: compressed %v, stored size %d of %d; want compressed %v", name, gotZ, b.res.storedSize, len(s), wantZ)
				}
				rc, err := r.OpenStream(b.hash)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(rc)
				_ = rc.Close()
				if err != nil || !bytes.Equal(got, s) {
					t.Fatalf("%s read back wrong (%v)", name, err)
				}
			}
		})
	}
}
