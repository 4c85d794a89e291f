//go:build unix

package snapshot

import (
	"errors"

	"golang.org/x/sys/unix"
)

// processAlive reports whether a process with that PID runs (in this PID
// namespace); when that cannot be told, it says yes.
func processAlive(pid int) bool {
	return !errors.Is(unix.Kill(pid, 0), unix.ESRCH)
}
