//go:build windows

package main

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// tryLockWIM takes lockWIM's lock: an exclusive lock of one byte far past
// the end of any WIM (at 2^62), since a LockFileEx lock also keeps
// other processes from reading the bytes it covers, and a WIM being
// appended to stays readable. It reports false when another handle holds
// it.
func tryLockWIM(f *os.File) (bool, error) {
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY,
		0, 1, 0, &windows.Overlapped{OffsetHigh: 1 << 30})
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return false, nil
	}
	return err == nil, err
}
