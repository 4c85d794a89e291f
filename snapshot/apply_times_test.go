//go:build unix

package snapshot

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// TestSameWriteTimeClamped: a time the target holds at a limit some file
// system clamps to counts as the image's only on a file system that
// clamps (ext4 keeps 1850 as 1901-12-13T20:45:52Z; tmpfs and btrfs keep
// it, so a file at that exact second is another time).
func TestSameWriteTimeClamped(t *testing.T) {
	at := func(year int) wim.Filetime {
		d := time.Date(year, 6, 1, 12, 0, 0, 500, time.UTC)
		return wim.FiletimeFromUnix(d.Unix(), int64(d.Nanosecond()))
	}
	tests := []struct {
		image   wim.Filetime
		target  unix.Timespec
		clamped bool // the same on a file system that clamps
	}{
		{at(1850), unix.Timespec{Sec: minTime32}, true},
		{at(1850), unix.Timespec{Sec: minTime32, Nsec: 1}, false}, // the kernel clamps nanoseconds to 0
		{at(1950), unix.Timespec{Sec: minTime32}, false},          // a time ext4 holds
		{at(2040), unix.Timespec{Sec: maxTime32}, true},
		{at(2500), unix.Timespec{Sec: maxTimeExt4}, true},
		{at(2400), unix.Timespec{Sec: maxTimeExt4}, false}, // before the limit
		{at(2600), unix.Timespec{Sec: maxTimeXFSBT}, true},
		{at(2600), unix.Timespec{Sec: maxTimeXFSBT - 1}, false},
	}
	for _, tt := range tests {
		e := &wim.Entry{LastWriteTime: tt.image}
		st := &unix.Stat_t{Mtim: tt.target}
		for _, clamps := range []bool{false, true} {
			a := &applier{clampsTimes: clamps, rootFD: -1} // nothing to probe: the known limits
			if got, want := a.sameWriteTime(st, e), clamps && tt.clamped; got != want {
				t.Errorf("image %v, target %v, file system clamps %v: same %v, want %v",
					tt.image.Time(), tt.target, clamps, got, want)
			}
		}
	}
	// With the limits probed (ext4 of 256-byte inodes: 1901 to 2446),
	// 2038-01-19T03:14:07Z is a time it holds: a file there is not 2040.
	a := &applier{clampsTimes: true, timeLo: minTime32, timeHi: maxTimeExt4}
	a.limitsOnce.Do(func() { a.probed.Store(true) }) // probed
	for _, tt := range []struct {
		image  wim.Filetime
		target unix.Timespec
		same   bool
	}{
		{at(2040), unix.Timespec{Sec: maxTime32}, false},
		{at(2500), unix.Timespec{Sec: maxTimeExt4}, true},
		{at(1850), unix.Timespec{Sec: minTime32}, true},
		{at(2600), unix.Timespec{Sec: maxTimeXFSBT}, false},
	} {
		if got := a.sameWriteTime(&unix.Stat_t{Mtim: tt.target}, &wim.Entry{LastWriteTime: tt.image}); got != tt.same {
			t.Errorf("limits 1901-2446: image %v, target %v: same %v, want %v", tt.image.Time(), tt.target, got, tt.same)
		}
	}
}
