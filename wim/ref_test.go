//go:build unix

package wim_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestAddRef: a delta WIM that wimlib-imagex wrote with --delta-from
// lacks the streams of its base, and reads them, sizes included, once the
// base is added with AddRef: the same image and streams as a WIM captured
// whole, and Verify passes. The base's images stay out.
func TestAddRef(t *testing.T) {
	for _, flags := range [][]string{{"--compress=xpress"}, {"--solid"}} {
		t.Run(flags[0], func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			for name, seed := range map[string]uint64{"a.bin": 1, "d/b.bin": 2} {
				p := filepath.Join(src, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, wimtest.RandomBytes(seed, 200<<10), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			base, delta, whole := filepath.Join(dir, "base.wim"), filepath.Join(dir, "delta.wim"), filepath.Join(dir, "whole.wim")
			wimtest.Wimlib(t, append([]string{"capture", src, base}, flags...)...)
			if err := os.WriteFile(filepath.Join(src, "d", "c.bin"), wimtest.RandomBytes(3, 100<<10), 0o644); err != nil {
				t.Fatal(err)
			}
			wimtest.Wimlib(t, append([]string{"capture", src, delta, "--delta-from=" + base}, flags...)...)
			wimtest.Wimlib(t, "capture", src, whole)

			r := wimtest.Open(t, delta)
			if err := r.Verify(nil); !errors.Is(err, wim.ErrNotFound) {
				t.Errorf("Verify of the delta alone: %v, want ErrNotFound", err)
			}
			r.AddRef(wimtest.Open(t, base))
			r.AddRef(r) // changes nothing
			if err := r.Verify(nil); err != nil {
				t.Errorf("Verify with the base added: %v", err)
			}
			if r.ImageCount() != 1 {
				t.Errorf("%d images, want the delta's 1", r.ImageCount())
			}
			w := wimtest.Open(t, whole)
			want, got := streams(t, w), streams(t, r)
			if len(got) != len(want) || len(want) != 3 {
				t.Errorf("%d streams read, want %d (3)", len(got), len(want))
			}
			for h, b := range want {
				if !bytes.Equal(got[h], b) || r.StreamSize(h) != int64(len(b)) {
					t.Errorf("stream %x differs, or its size %d is not %d", h, r.StreamSize(h), len(b))
				}
			}
			m, err := r.Metadata(1)
			if err != nil {
				t.Fatal(err)
			}
			m.Streams(func(s *wim.Stream) {
				if !s.Hash.IsZero() && s.Size != int64(len(want[s.Hash])) {
					t.Errorf("Metadata sizes stream %x %d bytes, want %d", s.Hash, s.Size, len(want[s.Hash]))
				}
			})
		})
	}
}
