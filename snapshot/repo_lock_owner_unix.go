//go:build unix

package snapshot

import (
	"bytes"
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// processAlive reports whether a process with that PID runs (in this PID
// namespace); when that cannot be told, it says yes. A zombie, killed and
// not yet reaped by its parent (a killed process whose parent died too
// waits for init), does not run.
func processAlive(pid int) bool {
	if errors.Is(unix.Kill(pid, 0), unix.ESRCH) {
		return false
	}
	return !zombie(pid)
}

// zombie reports whether /proc says the process pid has exited and waits
// to be reaped; false where there is no /proc.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// "pid (comm) S ...": comm may hold spaces and parentheses, so the
	// state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	return b[i+2] == 'Z' || b[i+2] == 'X'
}
