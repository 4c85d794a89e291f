package scheduler

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"
)

// fuzzZones are the zones FuzzApply picks from: DST in either hemisphere, a
// half-hour DST shift (Lord Howe) and a zone without DST.
var fuzzZones = []string{"", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"}

// fuzzSnapshots reads 5 bytes per snapshot: a signed 32-bit number of
// minutes from 2024-01-01 UTC and a bit set of the tags a, b and c.
func fuzzSnapshots(data []byte) []Snapshot {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var snaps []Snapshot
	for i := 0; len(data) >= 5; i, data = i+1, data[5:] {
		minutes := int32(binary.BigEndian.Uint32(data))
		s := Snapshot{ID: fmt.Sprintf("s%03d", i), Time: base.Add(time.Duration(minutes) * time.Minute)}
		for j, tag := range []string{"a", "b", "c"} {
			if data[4]&(1<<j) != 0 {
				s.Tags = append(s.Tags, tag)
			}
		}
		snaps = append(snaps, s)
	}
	return snaps
}

func FuzzApply(f *testing.F) {
	f.Add(int8(3), int8(0), int8(7), int8(4), int8(12), int8(1), int64(0), uint8(0), uint8(1),
		[]byte{0, 0, 0, 0, 1, 0, 0, 5, 160, 0, 0, 0, 11, 64, 2, 255, 255, 255, 0, 4})
	f.Add(int8(0), int8(-1), int8(0), int8(0), int8(0), int8(0), int64(time.Hour), uint8(1), uint8(2),
		[]byte{0, 4, 40, 160, 0, 0, 4, 41, 0, 1, 0, 4, 41, 60, 3})
	f.Add(int8(1), int8(2), int8(-1), int8(-1), int8(-3), int8(-1), int64(-5), uint8(7), uint8(3), []byte{})
	locs := make([]*time.Location, len(fuzzZones))
	for i, name := range fuzzZones {
		locs[i] = zone(f, name)
	}
	f.Fuzz(func(t *testing.T, last, hourly, daily, weekly, monthly, yearly int8,
		within int64, tagMask, zoneIndex uint8, data []byte) {
		p := Policy{Last: int(last), Hourly: int(hourly), Daily: int(daily), Weekly: int(weekly),
			Monthly: int(monthly), Yearly: int(yearly), Within: time.Duration(within)}
		for j, tag := range []string{"a", "b", "c"} {
			if tagMask&(1<<j) != 0 {
				p.Tags = append(p.Tags, tag)
			}
		}
		loc := locs[int(zoneIndex)%len(locs)]
		snaps := fuzzSnapshots(data)
		ds := Apply(p, snaps, loc)
		checkDecisions(t, p, snaps, ds)
		reversed := slices.Clone(snaps)
		slices.Reverse(reversed)
		if again := Apply(p, reversed, loc); !slices.EqualFunc(ds, again, sameDecision) {
			t.Errorf("decisions depend on the input order")
		}
	})
}

func sameDecision(a, b Decision) bool {
	return a.Snapshot.ID == b.Snapshot.ID && a.Keep == b.Keep && slices.Equal(a.Reasons, b.Reasons)
}

// checkDecisions asserts what holds for every policy and history.
func checkDecisions(t *testing.T, p Policy, snaps []Snapshot, ds []Decision) {
	t.Helper()
	if len(snaps) == 0 {
		if ds != nil {
			t.Fatalf("no snapshots gave %d decisions", len(ds))
		}
		return
	}
	seen := make(map[string]int)
	for i, d := range ds {
		seen[d.Snapshot.ID]++
		if d.Keep != (len(d.Reasons) > 0) {
			t.Errorf("%s: Keep %v with reasons %q", d.Snapshot.ID, d.Keep, d.Reasons)
		}
		if i > 0 && d.Snapshot.Time.After(ds[i-1].Snapshot.Time) {
			t.Errorf("%s is newer than %s before it", d.Snapshot.ID, ds[i-1].Snapshot.ID)
		}
	}
	for _, s := range snaps {
		if seen[s.ID] != 1 {
			t.Errorf("%s has %d decisions, want 1", s.ID, seen[s.ID])
		}
	}
	keptN := len(kept(ds))
	if (p.Last < 0 && keptN != len(ds)) || (p.Last > 0 && keptN < min(p.Last, len(ds))) {
		t.Errorf("keep-last %d kept %d of %d", p.Last, keptN, len(ds))
	}
	if p.Within > 0 || slices.ContainsFunc(p.counts(), func(c count) bool { return c.n != 0 }) {
		if !ds[0].Keep {
			t.Errorf("policy %+v forgets the newest snapshot", p)
		}
	}
	for _, d := range ds {
		if !d.Keep && slices.ContainsFunc(p.Tags, func(tag string) bool { return slices.Contains(d.Snapshot.Tags, tag) }) {
			t.Errorf("%s carries a kept tag but goes", d.Snapshot.ID)
		}
	}
	checkPeriodCounts(t, p, ds)
}

// checkPeriodCounts asserts that a bucket rule with a positive count keeps
// no more than that many snapshots.
func checkPeriodCounts(t *testing.T, p Policy, ds []Decision) {
	t.Helper()
	for _, r := range periodRules(p) {
		if r.count <= 0 {
			continue
		}
		n := 0
		for _, d := range ds {
			if slices.Contains(d.Reasons, r.reason) {
				n++
			}
		}
		if n > r.count {
			t.Errorf("%s: %d kept, count %d", r.reason, n, r.count)
		}
	}
}
