//go:build unix

package snapshot

import (
	"errors"
	"syscall"
)

// unwritable reports whether err is a write refused by the file system as
// a whole: it is mounted read-only, full, or over the user's quota. A
// command that only reads does not need to write there (a full disk is
// also where a restore is most wanted).
func unwritable(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
