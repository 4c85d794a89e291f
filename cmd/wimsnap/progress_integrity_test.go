//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestOptimizeIntegrityStatus: optimize --check's status line says that
// the integrity table is being written, once the streams are done; it
// stayed at "recompressing: ... (100%)" meanwhile. The count of the
// streams, which the summary reports, is kept.
func TestOptimizeIntegrityStatus(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	writeFile(t, src, "f", []byte(strings.Repeat("data", 50000)))
	wimfile := filepath.Join(tmp, "a.wim")
	runAppOK(t, nil, "capture", src, wimfile)
	r := wimtest.Open(t, wimfile)
	tr := &verifyTracker{verb: "recompressing", start: time.Now(), now: time.Now, total: streamBytes(r, []int{1})}
	it := newIntegrityTracker(tr, tr.now)
	f := &optimizeFlags{check: true}
	out, err := os.Create(filepath.Join(tmp, "b.wim"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = out.Close() }()
	w, err := wim.NewWriter(out, append(f.writerOptions(r, wim.CompressLZX, 0, []int{1}, time.Now), wim.WithIntegrityProgress(it.update))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := copyImages(t.Context(), w, r, rewriteSpec{images: []int{1}}, tr); err != nil {
		t.Fatal(err)
	}
	if got := it.render(); !strings.HasPrefix(got, "writing integrity table: ") || !strings.Contains(got, "(100%)") {
		t.Errorf("status %q, want the integrity table written", got)
	}
	if tr.bytes() != tr.total || tr.total == 0 {
		t.Errorf("streams counted: %d of %d", tr.bytes(), tr.total)
	}
}

// TestSplitIntegrityStatus: split's status line shows the integrity table
// of each part while it is written, with its own count and rate, and the
// copy again after it; it stayed at "splitting: ..." meanwhile.
func TestSplitIntegrityStatus(t *testing.T) {
	clock := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	tr := &verifyTracker{verb: "splitting", start: clock, now: now, total: 8 << 20}
	it := newIntegrityTracker(tr, tr.now)
	copied := splitProgress(it, tr)
	copied(2 << 20)
	clock = clock.Add(time.Minute)
	it.updatePart(1, 0, 4<<20)
	clock = clock.Add(time.Second)
	it.updatePart(1, 1<<20, 4<<20)
	if got, want := it.render(), "writing integrity table of part 1: 1.0 MiB of 4.0 MiB (25%), 1.0 MiB/s, ETA 3s"; got != want {
		t.Errorf("status %q, want %q", got, want)
	}
	copied(4 << 20)
	if got, want := it.render(), "splitting: 4.0 MiB of 8.0 MiB (50%)"; !strings.HasPrefix(got, want) {
		t.Errorf("status %q, want %q...", got, want)
	}
}

// TestCaptureIntegrityStatus: capture --check's and append --check's status
// line says that the integrity table is being written, once the walk is
// done; the line was cleared meanwhile, which on a large WIM looked like a
// hang.
func TestCaptureIntegrityStatus(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	writeFile(t, src, "f", []byte(strings.Repeat("data", 50000)))
	wimfile := filepath.Join(tmp, "a.wim")
	a, _, _ := testApp(nil)
	spec := &captureSpec{source: src, wimfile: wimfile, info: wim.ImageInfo{Name: "one"}, compress: wim.CompressXPRESS, check: true}
	f, err := os.Create(wimfile)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	st := newCaptureStatus(time.Now)
	w, err := wim.NewWriter(f, spec.writerOptions(time.Now, false, false, 1, st)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.captureInto(t.Context(), w, spec, nil, st, nil, nil); err != nil {
		t.Fatal(err)
	}
	wantIntegrity := func(what string, st *captureStatus) {
		t.Helper()
		if got := st.render(); !strings.HasPrefix(got, "writing integrity table: ") || !strings.Contains(got, "(100%)") {
			t.Errorf("%s: status %q, want the integrity table written", what, got)
		}
	}
	wantIntegrity("capture", st)
	spec.info.Name, spec.check = "two", false // the WIM's table is kept
	r, err := readForAppend(f, spec)
	if err != nil {
		t.Fatal(err)
	}
	st = newCaptureStatus(time.Now)
	w, err = wim.NewAppendWriter(f, r, spec.writerOptions(time.Now, true, r.Header().HasIntegrity, 2, st)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.appendImage(t.Context(), w, r, spec, nil, st); err != nil {
		t.Fatal(err)
	}
	wantIntegrity("append", st)
}

// TestOptimizeDuplicateStreamsStatus: a WIM whose files share a stream
// has optimize's status count that stream once in its total, as the copy
// writes it, and end at 100% (its total counted each file's bytes: it
// stopped at 50% here).
func TestOptimizeDuplicateStreamsStatus(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	data := []byte(strings.Repeat("data", 50000))
	writeFile(t, src, "f", data)
	writeFile(t, src, "copy", data)
	wimfile := filepath.Join(tmp, "a.wim")
	runAppOK(t, nil, "capture", src, wimfile)
	r := wimtest.Open(t, wimfile)
	tr := &verifyTracker{verb: "recompressing", start: time.Now(), now: time.Now, total: streamBytes(r, []int{1})}
	if tr.total != int64(len(data)) {
		t.Errorf("total %d, want the %d bytes of the one stream the copy writes", tr.total, len(data))
	}
	out, err := os.Create(filepath.Join(tmp, "b.wim"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = out.Close() }()
	w, err := wim.NewWriter(out, wim.WithCompression(wim.CompressXPRESS))
	if err != nil {
		t.Fatal(err)
	}
	if err := copyImages(t.Context(), w, r, rewriteSpec{images: []int{1}}, tr); err != nil {
		t.Fatal(err)
	}
	if got := tr.render(); !strings.Contains(got, "(100%)") || tr.bytes() != int64(len(data)) {
		t.Errorf("status %q after copying %d bytes, want 100%% of the %d bytes of the one stream", got, tr.bytes(), len(data))
	}
}
