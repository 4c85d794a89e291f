//go:build unix

package remote

import (
	"os"
	"syscall"
)

// openObjectFlags opens an object file for reading without blocking on a
// FIFO (whose type the caller's fstat then refuses).
const openObjectFlags = os.O_RDONLY | syscall.O_NONBLOCK
