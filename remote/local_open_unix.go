//go:build unix

package remote

import (
	"errors"
	"os"
	"syscall"
)

// openObjectFlags opens an object file for reading without following a
// symbolic link and without blocking on a FIFO (whose type the caller's
// fstat then refuses).
const openObjectFlags = os.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_NONBLOCK

// isLink reports whether err is open's with openObjectFlags on a
// symbolic link.
func isLink(err error) bool { return errors.Is(err, syscall.ELOOP) }
