package snapshot

import (
	"errors"

	"golang.org/x/sys/windows"
)

// unwritable reports whether err is a write refused by the volume as a
// whole: write-protected or full. See the UNIX version.
func unwritable(err error) bool {
	return errors.Is(err, windows.ERROR_WRITE_PROTECT) || errors.Is(err, windows.ERROR_DISK_FULL) ||
		errors.Is(err, windows.ERROR_HANDLE_DISK_FULL)
}
