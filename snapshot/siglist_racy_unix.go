//go:build unix

package snapshot

import (
	"time"

	"github.com/wimsnap/wimsnap/index"
)

// racyFrom is the earliest time, in the signatures' clock (Unix
// nanoseconds), that makes a signature taken by a snapshot that began at
// start racy.
func racyFrom(start time.Time) int64 { return start.Add(-racyWindow).UnixNano() }

// racy reports whether signature s, of whole-second times (a file system
// of finer ones gives a change a new time: Linux's multigrain timestamps),
// has one of them at or after from.
func racy(s index.Sig, from int64) bool {
	const second = int64(time.Second)
	return s.MtimeNs%second == 0 && s.CtimeNs%second == 0 && (s.MtimeNs >= from || s.CtimeNs >= from)
}
