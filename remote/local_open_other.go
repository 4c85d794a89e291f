//go:build !unix

package remote

import "os"

// openObjectFlags opens an object file for reading. Windows follows a
// symbolic link (which only an administrator makes) and has no FIFOs.
const openObjectFlags = os.O_RDONLY

// isLink reports whether err is open's on a symbolic link: never here.
func isLink(error) bool { return false }
