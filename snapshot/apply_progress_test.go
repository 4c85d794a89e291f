//go:build unix

package snapshot

import (
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// slowSource delays each read of its streams, as a slow disk or network
// would.
type slowSource struct {
	StreamSource
	delay time.Duration
}

func (s slowSource) OpenStream(h wim.Hash) (io.ReadCloser, error) {
	rc, err := s.StreamSource.OpenStream(h)
	if err != nil {
		return nil, err
	}
	return slowReader{rc, s.delay}, nil
}

type slowReader struct {
	io.ReadCloser
	delay time.Duration
}

func (r slowReader) Read(p []byte) (int, error) {
	time.Sleep(r.delay)
	return r.ReadCloser.Read(p)
}

// TestApplyProgressLargeFile: while the workers write a large file and
// the walk has nothing left to do, progress goes on being reported, its
// bytes growing with what was written. It stayed at 0 B until the end.
// The bytes never go back, also while a file is closed slowly (a network
// file system), between its bytes written and its bytes counted.
func TestApplyProgressLargeFile(t *testing.T) {
	orig := closeFile
	closeFile = func(fd int) error {
		time.Sleep(300 * time.Millisecond)
		return orig(fd)
	}
	defer func() { closeFile = orig }()
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	const size = 8 << 20
	must(t, os.MkdirAll(src, 0o755))
	writeTestFile(t, filepath.Join(src, "big"), wimtest.RandomBytes(5, size))
	path := filepath.Join(tmp, "t.wim")
	captureWIM(t, src, path, CaptureOptions{})
	r, m := openWIM(t, path)
	var mu sync.Mutex
	var seen []int64
	opts := ApplyOptions{Progress: func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, p.Bytes)
	}}
	applyOK(t, m, slowSource{r, 3 * time.Millisecond}, filepath.Join(tmp, "out"), opts)
	mu.Lock()
	defer mu.Unlock()
	partial := 0
	for i, b := range seen {
		if b > 0 && b < size {
			partial++
		}
		if i > 0 && b < seen[i-1] {
			t.Errorf("bytes went back: %v", seen)
			break
		}
	}
	if partial < 2 || seen[len(seen)-1] != size {
		t.Errorf("bytes reported %v: want at least two reports while the file is written, and %d at the end", seen, size)
	}
}
