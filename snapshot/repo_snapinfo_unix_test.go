//go:build unix

package snapshot

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/index"
)

// dropSummaries rewrites r's local index as a wimsnap before summaries
// left it: every cached snapshot without one.
func dropSummaries(t *testing.T, r *Repo) {
	t.Helper()
	db, err := index.Open(r.cache, r.cfg.ID, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	b := index.NewBatch()
	if err := db.Snapshots(func(id index.ID, stored []byte) error {
		b.AddSnapshot(id, append([]byte(nil), stored...), nil)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
}

// summaryCount returns how many of the snapshots r's local index caches
// have a summary, and how many it caches.
func summaryCount(t *testing.T, r *Repo) (summarised, cached int) {
	t.Helper()
	db, err := index.Open(r.cache, r.cfg.ID, index.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if err := db.SnapshotInfos(func(id index.ID, info []byte) error {
		cached++
		if _, ok := decodeInfo(id, info); ok {
			summarised++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return summarised, cached
}

// TestParentFromSummaries: a snapshot's parent is the latest snapshot of
// its host and source, not of another host, another source or an import;
// "latest" and id prefixes resolve; all of it as well from an index whose
// snapshots have no summaries (written by a wimsnap before them), which
// the next sync then summarises.
func TestParentFromSummaries(t *testing.T) {
	tmp := t.TempDir()
	a, b := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
	for _, dir := range []string{a, b} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte(dir), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := testRepo(t, 0)
	a1 := snapshotOK(t, r, a, TakeOptions{Host: "h1"}).Manifest
	a2 := snapshotOK(t, r, a, TakeOptions{Host: "h1"}).Manifest
	snapshotOK(t, r, a, TakeOptions{Host: "h2"})
	b1 := snapshotOK(t, r, b, TakeOptions{Host: "h1"}).Manifest
	if a2.Parent != a1.ID || b1.Parent != "" {
		t.Fatalf("parents: second of a %q (want %s), first of b %q", a2.Parent, a1.ShortID(), b1.Parent)
	}
	latest := b1
	for _, summaries := range []bool{true, false} {
		if !summaries {
			dropSummaries(t, r)
			if n, all := summaryCount(t, r); n != 0 || all != 5 {
				t.Fatalf("%d of %d snapshots summarised after dropping them", n, all)
			}
		}
		if m, err := r.FindSnapshot(t.Context(), "latest"); err != nil || m.ID != latest.ID {
			t.Errorf("summaries %v: latest is %v (%v), want %s", summaries, m, err, latest.ShortID())
		}
		if m, err := r.FindSnapshot(t.Context(), a2.ID[:12]); err != nil || m.ID != a2.ID || m.Source != a {
			t.Errorf("summaries %v: %s found %v (%v)", summaries, a2.ID[:12], m, err)
		}
		next := snapshotOK(t, r, a, TakeOptions{Host: "h1"}).Manifest
		if next.Parent != a2.ID {
			t.Errorf("summaries %v: parent %q, want the second snapshot of a on h1, %s", summaries, next.Parent, a2.ShortID())
		}
		a2, latest = next, next
	}
	if n, all := summaryCount(t, r); n != all || all != 6 {
		t.Errorf("%d of %d snapshots summarised after a sync", n, all)
	}
}

// TestDamagedSummaryIgnored: a summary damaged in the local index (bbolt
// keeps no checksums) is not believed: the older snapshot's, changed to
// a later time, does not make it "latest", and the newer one's, changed
// to an earlier time, does not hide it.
func TestDamagedSummaryIgnored(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	r := testRepo(t, 0)
	older := snapshotOK(t, r, src, TakeOptions{}).Manifest
	newer := snapshotOK(t, r, src, TakeOptions{}).Manifest
	db, err := index.Open(r.cache, r.cfg.ID, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := index.NewBatch()
	for _, d := range []struct {
		m     *Manifest
		shift time.Duration
	}{{older, time.Hour}, {newer, -time.Hour}} {
		id, ok := parseID(d.m.ID)
		stored, found, err := db.SnapshotManifest(id)
		if !ok || !found || err != nil {
			t.Fatalf("snapshot %s not cached: %v", d.m.ShortID(), err)
		}
		good := encodeInfo(d.m)
		moved := *d.m
		moved.Time = d.m.Time.Add(d.shift)
		bad := encodeInfo(&moved)
		copy(bad[len(bad)-4:], good[len(good)-4:]) // the checksum of the true summary
		b.AddSnapshot(id, stored, bad)
	}
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if m, err := r.FindSnapshot(t.Context(), "latest"); err != nil || m.ID != newer.ID {
		t.Errorf("latest is %v (%v), want %s", m, err, newer.ShortID())
	}
}
