//go:build unix

package wim_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// splitWIM captures a tree of incompressible files with wimlib-imagex into
// one WIM, splits it into 1 MiB parts with wimlib-imagex split, and
// returns the whole WIM and the parts' paths (base.swm, base2.swm, ...).
func splitWIM(t *testing.T, dir string) (whole string, parts []string) {
	t.Helper()
	src := filepath.Join(dir, "src")
	for i := range 8 {
		p := filepath.Join(src, fmt.Sprintf("d%d", i%3), fmt.Sprintf("f%d.bin", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, wimtest.RandomBytes(uint64(i), 300<<10+i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	whole = filepath.Join(dir, "whole.wim")
	wimtest.Wimlib(t, "capture", src, whole, "--compress=xpress", "--unix-data")
	wimtest.Wimlib(t, "split", whole, filepath.Join(dir, "set.swm"), "1")
	parts = []string{filepath.Join(dir, "set.swm")}
	for k := 2; ; k++ {
		p := filepath.Join(dir, fmt.Sprintf("set%d.swm", k))
		if _, err := os.Stat(p); err != nil {
			break
		}
		parts = append(parts, p)
	}
	if len(parts) < 3 {
		t.Fatalf("wimlib-imagex split made %d parts, want 3 or more", len(parts))
	}
	return whole, parts
}

// streams returns every stream of image 1 of r, by hash, read whole.
func streams(t *testing.T, r *wim.Reader) map[wim.Hash][]byte {
	t.Helper()
	m, err := r.Metadata(1)
	if err != nil {
		t.Fatal(err)
	}
	out := map[wim.Hash][]byte{}
	err = m.Walk(func(p string, e *wim.Entry) error {
		for _, s := range e.Streams() {
			if s.Hash.IsZero() {
				continue
			}
			rc, err := r.OpenStream(s.Hash)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			b, err := io.ReadAll(rc)
			_ = rc.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			out[s.Hash] = b
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSplitWIM: the parts of a WIM split by wimlib-imagex, added to a
// Reader of part 1 (or of any part, part 1 among those added), read the
// same image and streams as the whole WIM and pass Verify.
func TestSplitWIM(t *testing.T) {
	whole, parts := splitWIM(t, t.TempDir())
	want := streams(t, wimtest.Open(t, whole))
	for _, first := range []int{0, len(parts) - 1} {
		r := wimtest.Open(t, parts[first])
		if h := r.Header(); !h.Split() || int(h.Part) != first+1 || int(h.Parts) != len(parts) {
			t.Fatalf("%s: part %d of %d, split %v", parts[first], h.Part, h.Parts, h.Split())
		}
		for i, p := range parts {
			if i != first {
				if err := r.AddPart(wimtest.Open(t, p)); err != nil {
					t.Fatalf("AddPart(%s): %v", p, err)
				}
			}
		}
		if m := r.MissingParts(); len(m) != 0 {
			t.Errorf("MissingParts = %v with every part added", m)
		}
		if err := r.Verify(nil); err != nil {
			t.Errorf("Verify of the whole set: %v", err)
		}
		got := streams(t, r)
		if len(got) != len(want) {
			t.Errorf("%d streams read from the parts, want %d", len(got), len(want))
		}
		for h, b := range want {
			if !bytes.Equal(got[h], b) {
				t.Errorf("stream %x differs when read from the parts", h)
			}
		}
	}
}

// TestSplitWIMIncomplete: a set missing parts lists the images (they are
// in part 1) but names the missing parts when a stream in them is read and
// in Verify; parts of another WIM, a part given twice and parts added to a
// WIM that is not split are refused; a part is not appended to.
func TestSplitWIMIncomplete(t *testing.T) {
	dir := t.TempDir()
	whole, parts := splitWIM(t, dir)
	r := wimtest.Open(t, parts[0])
	if _, err := r.Metadata(1); err != nil {
		t.Fatalf("part 1 alone: Metadata: %v", err)
	}
	if err := r.AddPart(wimtest.Open(t, parts[1])); err != nil {
		t.Fatal(err)
	}
	missing := r.MissingParts()
	if len(missing) != len(parts)-2 || missing[0] != 3 {
		t.Errorf("MissingParts = %v, want 3 to %d", missing, len(parts))
	}
	err := r.Verify(nil)
	if !errors.Is(err, wim.ErrNotFound) || !strings.Contains(err.Error(), "parts 3") {
		t.Errorf("Verify without parts 3 on: %v, want ErrNotFound naming them", err)
	}
	if err := r.AddPart(wimtest.Open(t, parts[1])); !errors.Is(err, wim.ErrFormat) {
		t.Errorf("a part added twice: %v, want ErrFormat", err)
	}

	// Part 2 alone has no images.
	if _, err := wimtest.Open(t, parts[1]).Metadata(1); !errors.Is(err, wim.ErrNotFound) {
		t.Errorf("part 2 alone: Metadata: %v, want ErrNotFound", err)
	}

	// Another split of the same WIM has another GUID.
	other := filepath.Join(dir, "other.swm")
	wimtest.Wimlib(t, "split", whole, other, "1")
	if err := r.AddPart(wimtest.Open(t, filepath.Join(dir, "other3.swm"))); !errors.Is(err, wim.ErrFormat) {
		t.Errorf("a part of another split WIM: %v, want ErrFormat", err)
	}
	if err := wimtest.Open(t, whole).AddPart(wimtest.Open(t, parts[1])); !errors.Is(err, wim.ErrUnsupported) {
		t.Errorf("AddPart to a WIM that is not split: %v, want ErrUnsupported", err)
	}

	f, err := os.OpenFile(parts[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if _, _, err := wim.OpenAppend(f); !errors.Is(err, wim.ErrUnsupported) {
		t.Errorf("appending to part 1: %v, want ErrUnsupported", err)
	}
}

// TestWriteSplit: WriteSplit's parts of a WIM pass wimlib-imagex verify,
// which also reads the parts, with and without integrity tables, and read
// back through AddPart as the whole WIM.
func TestWriteSplit(t *testing.T) {
	dir := t.TempDir()
	whole, _ := splitWIM(t, dir)
	want := streams(t, wimtest.Open(t, whole))
	for _, integrity := range []bool{false, true} {
		base := filepath.Join(dir, fmt.Sprintf("ours-%v", integrity))
		var files []*os.File
		n, err := wim.WriteSplit(t.Context(), wimtest.Open(t, whole), 1<<20, integrity,
			func(k, n int) (*os.File, error) {
				name := base + ".swm"
				if k > 1 {
					name = fmt.Sprintf("%s%d.swm", base, k)
				}
				f, err := os.Create(name)
				files = append(files, f)
				return f, err
			}, nil)
		for _, f := range files {
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if err != nil || n < 3 {
			t.Fatalf("WriteSplit: %d parts, %v; want 3 or more", n, err)
		}
		for k := 2; k <= n; k++ {
			if st, err := os.Stat(fmt.Sprintf("%s%d.swm", base, k)); err != nil || st.Size() > 1<<20 {
				t.Errorf("part %d: %v, or larger than 1 MiB", k, err)
			}
		}
		out := wimtest.Wimlib(t, "verify", base+".swm", "--ref="+base+"*.swm")
		if integrity && !strings.Contains(out, "integrity") {
			t.Logf("wimlib-imagex verify: %s", out)
		}
		r := wimtest.Open(t, base+".swm")
		for k := 2; k <= n; k++ {
			if err := r.AddPart(wimtest.Open(t, fmt.Sprintf("%s%d.swm", base, k))); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.Verify(nil); err != nil {
			t.Errorf("Verify: %v", err)
		}
		got := streams(t, r)
		for h, b := range want {
			if !bytes.Equal(got[h], b) {
				t.Errorf("stream %x differs in the parts", h)
			}
		}
	}
	r := wimtest.Open(t, filepath.Join(dir, "set.swm"))
	if _, err := wim.WriteSplit(t.Context(), r, 1<<20, false, nil, nil); !errors.Is(err, wim.ErrUnsupported) {
		t.Errorf("splitting a part: %v, want ErrUnsupported", err)
	}
}

// TestWriteSplitIntegrityProgress: WithSplitIntegrityProgress reports the
// hashing of each part for its integrity table, part by part, from none
// to the whole range; WriteSplit reported only the copy, which then sat
// at its end meanwhile.
func TestWriteSplitIntegrityProgress(t *testing.T) {
	dir := t.TempDir()
	whole, _ := splitWIM(t, dir)
	type call struct {
		part        int
		done, total int64
	}
	var calls []call
	var files []*os.File
	n, err := wim.WriteSplit(t.Context(), wimtest.Open(t, whole), 1<<20, true,
		func(k, _ int) (*os.File, error) {
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("p%d.swm", k)))
			files = append(files, f)
			return f, err
		}, nil, wim.WithSplitIntegrityProgress(func(part int, done, total int64) {
			calls = append(calls, call{part, done, total})
		}))
	for _, f := range files {
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	part := 0
	for i, c := range calls {
		switch {
		case c.done == 0:
			if c.part != part+1 || c.total <= 0 {
				t.Fatalf("call %d: %+v after part %d", i, c, part)
			}
			part = c.part
		case c.part != part || c.done > c.total || c.done <= calls[i-1].done:
			t.Fatalf("call %d: %+v after %+v", i, c, calls[i-1])
		}
		if (i+1 == len(calls) || calls[i+1].done == 0) && c.done != c.total {
			t.Errorf("part %d: the last call is %+v, short of the total", c.part, c)
		}
	}
	if part != n {
		t.Errorf("integrity progress of %d parts, want %d: %+v", part, n, calls)
	}
}

// TestWriteSplitOnePart: a split into one part writes a whole WIM, as
// wimlib-imagex split does: not spanned, and with its boot image. The part
// was marked spanned, so that the commands that edit a WIM in place
// refused it as a part of a split WIM.
func TestWriteSplitOnePart(t *testing.T) {
	dir := t.TempDir()
	whole, _ := splitWIM(t, dir)
	wimtest.Wimlib(t, "info", whole, "1", "--boot")
	name := filepath.Join(dir, "one.swm")
	n, err := wim.WriteSplit(t.Context(), wimtest.Open(t, whole), 1<<40, false,
		func(int, int) (*os.File, error) { return os.Create(name) }, nil)
	if err != nil || n != 1 {
		t.Fatalf("WriteSplit: %d parts, %v; want 1", n, err)
	}
	r := wimtest.Open(t, name)
	if h := r.Header(); h.Split() || h.Part != 1 || h.Parts != 1 || h.BootIndex != 1 {
		t.Errorf("header %+v; want a whole WIM whose boot image is 1", h)
	}
	if err := r.Verify(nil); err != nil {
		t.Error(err)
	}
	if out := wimtest.Wimlib(t, "info", name, "--header"); strings.Contains(out, "SPANNED") ||
		!regexp.MustCompile(`(?m)^Boot Index\s*=\s*1$`).MatchString(out) {
		t.Errorf("wimlib-imagex info --header:\n%s", out)
	}
	wimtest.Wimlib(t, "verify", name)
}
