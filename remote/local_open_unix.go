//go:build unix

package remote

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// openObjectFlags opens an object file for reading without blocking on a
// FIFO (whose type the caller's fstat then refuses).
const openObjectFlags = os.O_RDONLY | syscall.O_NONBLOCK

// openError is open's err for an object file: a socket, which open
// refuses (ENXIO) before its type can be seen, is a damaged object.
func openError(err error) error {
	if errors.Is(err, syscall.ENXIO) {
		return fmt.Errorf("%w (a socket)", ErrDamaged)
	}
	return err
}
