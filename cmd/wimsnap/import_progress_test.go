package main

import (
	"testing"
	"time"
)

// TestImportTracker: import's status line names the image being imported
// when it takes several, and its rate and time left count from when that
// image began, as each image's bytes count from 0: the second of two
// images showed a rate averaged over the whole run and an ETA of 1m30s for
// a few seconds of work, under the plain "importing".
func TestImportTracker(t *testing.T) {
	clock := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	tr := newImportTracker(2, now)
	steps := []struct {
		image       int
		done, total int64
		after       time.Duration // the clock moves by this after the update
		want        string
	}{
		{3, 0, 100 << 20, 10 * time.Second, "importing image 3 (1 of 2): 0 B of 100.0 MiB (0%)"},
		{3, 100 << 20, 100 << 20, 90 * time.Second, "importing image 3 (1 of 2): 100.0 MiB of 100.0 MiB (100%)"},
		{5, 0, 100 << 20, 10 * time.Second, "importing image 5 (2 of 2): 0 B of 100.0 MiB (0%)"},
		{5, 50 << 20, 100 << 20, 0, "importing image 5 (2 of 2): 50.0 MiB of 100.0 MiB (50%), 5.0 MiB/s, ETA 10s"},
	}
	for _, s := range steps {
		tr.update(s.image, s.done, s.total)
		clock = clock.Add(s.after)
		if got := tr.render(); got != s.want {
			t.Errorf("image %d, %d of %d: %q, want %q", s.image, s.done, s.total, got, s.want)
		}
	}
	one := newImportTracker(1, now)
	one.update(2, 0, 1<<20)
	if got, want := one.render(), "importing: 0 B of 1.0 MiB (0%)"; got != want {
		t.Errorf("one image: %q, want %q", got, want)
	}
}

// TestExportIntegrityStatus: export --check's status line says that the
// integrity table is being written, with its own count and rate, once the
// streams are done; it stayed at "exporting: ... (100%)" meanwhile.
func TestExportIntegrityStatus(t *testing.T) {
	clock := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	tr := &verifyTracker{verb: "exporting", start: clock, now: func() time.Time { return clock }}
	tr.update(1<<20, 1<<20)
	clock = clock.Add(time.Minute)
	it := newIntegrityTracker(tr, tr.now)
	it.update(0, 4<<20)
	clock = clock.Add(time.Second)
	it.update(1<<20, 4<<20)
	if got, want := it.render(), "writing integrity table: 1.0 MiB of 4.0 MiB (25%), 1.0 MiB/s, ETA 3s"; got != want {
		t.Errorf("status %q, want %q", got, want)
	}
}

// TestVerifyTrackerItems: a tracker of items (check's packs) shows counts,
// not bytes ("5 B of 12 B" read as sizes).
func TestVerifyTrackerItems(t *testing.T) {
	clock := time.Unix(1000, 0)
	tr := &verifyTracker{verb: "reading packs", items: "packs", start: clock, now: func() time.Time { return clock.Add(5 * time.Second) }}
	tr.update(5, 12)
	if got, want := tr.render(), "reading packs: 5 of 12 packs (41%), ETA 7s"; got != want {
		t.Errorf("render = %q, want %q", got, want)
	}
}

// TestVerifyTrackerStarting: before its total is known the line says the
// work is starting; it read "exporting: 0 B of 0 B", "0 of 0 packs".
func TestVerifyTrackerStarting(t *testing.T) {
	clock := time.Unix(1000, 0)
	for _, items := range []string{"", "packs"} {
		tr := &verifyTracker{verb: "exporting", items: items, start: clock, now: func() time.Time { return clock }}
		if got := tr.render(); got != "exporting: starting" {
			t.Errorf("items %q: %q", items, got)
		}
	}
}
