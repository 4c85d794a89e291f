package wim

import (
	"testing"
	"time"
)

// TestFiletimeUnix: FILETIMEs are unsigned; the largest are years past
// 30828 (wimlib shows an XML time whose HIGHPART is 0xFFFFFFFF as the
// year 60056), and times before 1970 and the 100 ns steps convert exactly.
func TestFiletimeUnix(t *testing.T) {
	for _, tc := range []struct {
		f    Filetime
		year int
	}{
		{0, 1601},
		{filetimeUnixEpoch - 1, 1969},
		{filetimeUnixEpoch, 1970},
		{1 << 63, 30828},
		{0xFFFFFFFF << 32, 60056},
		{^Filetime(0), 60056},
	} {
		if y := tc.f.Time().Year(); y != tc.year {
			t.Errorf("FILETIME %#x: year %d, want %d", uint64(tc.f), y, tc.year)
		}
	}
	for _, f := range []Filetime{0, 1, filetimeUnixEpoch - 1, filetimeUnixEpoch, filetimeUnixEpoch + 12345678, 1<<63 + 7} {
		if back := FiletimeFromTime(f.Time()); back != f {
			t.Errorf("FILETIME %#x came back as %#x", uint64(f), uint64(back))
		}
	}
	if got := FiletimeFromTime(time.Unix(-1, 100)); got != filetimeUnixEpoch-10000000+1 {
		t.Errorf("a second before 1970: %#x", uint64(got))
	}
}

// TestFiletimeClamps: a time a FILETIME cannot hold is clamped to the
// nearest one that it can, not wrapped around (1600 was the year 60055).
func TestFiletimeClamps(t *testing.T) {
	for _, tc := range []struct {
		t     time.Time
		want  Filetime
		holds bool
	}{
		{time.Date(1600, 6, 1, 0, 0, 0, 0, time.UTC), 0, false},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), 0, false},
		{time.Date(1601, 1, 1, 0, 0, 0, 100, time.UTC), 1, true},
		{time.Date(70000, 1, 1, 0, 0, 0, 0, time.UTC), ^Filetime(0), false},
		{time.Unix(1<<62, 0), ^Filetime(0), false},
	} {
		if got := FiletimeFromTime(tc.t); got != tc.want {
			t.Errorf("%v: FILETIME %#x, want %#x", tc.t, uint64(got), uint64(tc.want))
		}
		if h := FiletimeHolds(tc.t.Unix()); h != tc.holds {
			t.Errorf("%v: FiletimeHolds %v", tc.t, h)
		}
	}
}
