package snapshot

import (
	"bytes"
	"context"
	"crypto/sha1"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// memStore is an in-memory StreamSink and StreamSource.
type memStore struct {
	mu    sync.Mutex
	blobs map[wim.Hash][]byte
	adds  int
}

func newMemStore() *memStore { return &memStore{blobs: map[wim.Hash][]byte{}} }

func (m *memStore) AddStream(r io.Reader, size int64) (wim.Hash, error) {
	if size == 0 {
		return wim.Hash{}, nil
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return wim.Hash{}, fmt.Errorf("%w: %w", wim.ErrSizeChanged, err)
		}
		return wim.Hash{}, err
	}
	h := wim.Hash(sha1.Sum(b))
	m.mu.Lock()
	m.blobs[h] = b
	m.adds++
	m.mu.Unlock()
	return h, nil
}

func (m *memStore) HasStream(h wim.Hash) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.blobs[h] != nil
}

func (m *memStore) OpenStream(h wim.Hash) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[h]
	if !ok {
		return nil, fmt.Errorf("%w: %x", wim.ErrNotFound, h)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// warnings collects Warn calls.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) add(path string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, fmt.Sprintf("%q: %v", path, err))
}

// captureWIM captures src into a new WIM file at path with wimsnap.
func captureWIM(t *testing.T, src, path string, opts CaptureOptions, wopts ...wim.WriterOption) CaptureStats {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := wim.NewWriter(f, wopts...)
	if err != nil {
		t.Fatal(err)
	}
	var warns warnings
	if opts.Warn == nil {
		opts.Warn = warns.add
	}
	m, st, err := Capture(context.Background(), src, w, opts)
	if err != nil {
		t.Fatalf("Capture: %v", err)
	}
	for _, s := range warns.list {
		t.Logf("capture warning: %s", s)
	}
	if err := w.AddImage(m, wim.ImageInfo{Name: "test"}); err != nil {
		t.Fatalf("AddImage: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return st
}

// openWIM opens the WIM at path and loads image 1.
func openWIM(t *testing.T, path string) (*wim.Reader, *wim.Metadata) {
	t.Helper()
	r := wimtest.Open(t, path)
	m, err := r.Metadata(1)
	if err != nil {
		t.Fatalf("Metadata: %v", err)
	}
	return r, m
}

// applyOK applies m and fails the test on an error or a skipped entry.
func applyOK(t *testing.T, m *wim.Metadata, src StreamSource, target string, opts ApplyOptions) ApplyStats {
	t.Helper()
	var warns warnings
	opts.Warn = warns.add
	st, err := Apply(context.Background(), m, src, target, opts)
	for _, s := range warns.list {
		t.Logf("apply warning: %s", s)
	}
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if st.Skipped != 0 || len(warns.list) != 0 {
		t.Errorf("Apply: %d skipped, %d warnings", st.Skipped, len(warns.list))
	}
	return st
}

// find returns the entry at the '/'-separated path below root, or nil.
func find(root *wim.Entry, path string) *wim.Entry {
	e := root
	for _, c := range bytes.Split([]byte(path), []byte("/")) {
		var next *wim.Entry
		for _, ch := range e.Children {
			if ch.Name == string(c) {
				next = ch
			}
		}
		if next == nil {
			return nil
		}
		e = next
	}
	return e
}
