//go:build !unix

package remote

import "os"

// openObjectFlags opens an object file for reading (Windows has no FIFOs
// that a file name opens).
const openObjectFlags = os.O_RDONLY

// openError is open's err for an object file.
func openError(err error) error { return err }
