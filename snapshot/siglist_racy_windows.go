package snapshot

import (
	"time"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
)

// racyFrom is the earliest time, in the signatures' clock (FILETIME: the
// capture records last write and creation times), that makes a signature
// taken by a snapshot that began at start racy.
func racyFrom(start time.Time) int64 {
	return int64(wim.FiletimeFromTime(start.Add(-racyWindow))) //nolint:gosec // a FILETIME of now fits
}

// racy reports whether signature s has a last write time of whole seconds
// (FAT and exFAT keep two, or ten milliseconds for exFAT's) at or after
// from. The creation time, its CtimeNs, does not move with a write.
func racy(s index.Sig, from int64) bool {
	const second = int64(10_000_000) // in FILETIME's 100 ns
	return s.MtimeNs%second == 0 && s.MtimeNs >= from
}
