//go:build unix

package snapshot

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestCompareSpeed times capture and apply of the tree named by
// WIMSNAP_BENCH_TREE against wimlib-imagex's (both XPRESS, --unix-data).
// It is skipped without the variable; make bench sets it.
func TestCompareSpeed(t *testing.T) {
	tree := os.Getenv("WIMSNAP_BENCH_TREE")
	if tree == "" {
		t.Skip("WIMSNAP_BENCH_TREE not set")
	}
	wimtest.Require(t, "wimlib-imagex")
	tmp := t.TempDir()
	ours, theirs := filepath.Join(tmp, "ours.wim"), filepath.Join(tmp, "theirs.wim")
	timed := func(what string, f func()) time.Duration {
		start := time.Now()
		f()
		d := time.Since(start)
		t.Logf("%-22s %v", what, d)
		return d
	}
	timed("wimlib capture", func() { wimtest.Wimlib(t, "capture", tree, theirs, "--unix-data", "--compress=xpress") })
	timed("wimsnap capture", func() { captureWIM(t, tree, ours, CaptureOptions{Warn: func(string, error) {}}) })
	wl := timed("wimlib apply", func() { wimtest.Wimlib(t, "apply", theirs, "1", filepath.Join(tmp, "out-wimlib"), "--unix-data") })
	r, m := openWIM(t, theirs)
	ws := timed("wimsnap apply", func() { applyOK(t, m, r, filepath.Join(tmp, "out-wimsnap"), ApplyOptions{}) })
	t.Logf("apply speed-up %.2fx", float64(wl)/float64(ws))
	wimtest.CompareTrees(t, filepath.Join(tmp, "out-wimlib"), filepath.Join(tmp, "out-wimsnap"), wimtest.CompareOptions{})
}

// nullSink drains streams without storing them.
type nullSink struct{ buf []byte }

func (s *nullSink) AddStream(r io.Reader, size int64) (wim.Hash, error) {
	for left := size; left > 0; {
		n, err := r.Read(s.buf[:min(int64(len(s.buf)), left)])
		if err != nil {
			return wim.Hash{}, err
		}
		left -= int64(n)
	}
	return wim.Hash{1}, nil
}

func (s *nullSink) HasStream(wim.Hash) bool { return true }

// BenchmarkCaptureWalk measures the walk alone (contents drained, not
// hashed) over MakeTree's tree; allocations are reported per entry.
func BenchmarkCaptureWalk(b *testing.B) {
	src := filepath.Join(b.TempDir(), "src")
	wimtest.MakeTree(b, src, wimtest.TreeOptions{})
	sink := &nullSink{buf: make([]byte, 32<<10)}
	b.ReportAllocs()
	var entries int64
	for b.Loop() {
		_, st, err := Capture(b.Context(), src, sink, CaptureOptions{})
		if err != nil {
			b.Fatal(err)
		}
		entries = st.Dirs + st.Files + st.Symlinks + st.Special
	}
	b.ReportMetric(float64(entries), "entries/op")
}

// BenchmarkCaptureDeepConfig measures the walk of a chain of 1000 nested
// directories with a configuration of 1000 exclusion patterns: each
// directory's exclusion is worked out from its parent's, so the cost grows
// with the depth, not with its square (12.6 s for this chain with 2000
// patterns when every directory matched all its ancestors' prefixes).
func BenchmarkCaptureDeepConfig(b *testing.B) {
	src := filepath.Join(b.TempDir(), "src")
	dir := src
	for range 1000 {
		dir = filepath.Join(dir, "a")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Skipf("a chain of 1000 directories: %v", err)
	}
	cfg := &Config{}
	for i := range 1000 {
		if err := cfg.Exclude(fmt.Sprintf(`\nowhere%d\x`, i), fmt.Sprintf("*.ext%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	sink := &nullSink{buf: make([]byte, 32<<10)}
	for b.Loop() {
		if _, _, err := Capture(b.Context(), src, sink, CaptureOptions{Config: cfg}); err != nil {
			b.Fatal(err)
		}
	}
}
