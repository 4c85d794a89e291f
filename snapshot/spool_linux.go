package snapshot

import (
	"os"

	"golang.org/x/sys/unix"
)

// openAnon creates a file without a name in dir that can still be linked
// (O_TMPFILE without O_EXCL), so that a local store on the same file
// system can take a spooled pack as its object rather than copy it
// (remote.FilePutter). Its mode is an object's: 0o644 less the umask. File
// systems without O_TMPFILE give an error.
func openAnon(dir string) (*os.File, error) {
	return os.OpenFile(dir, os.O_RDWR|unix.O_TMPFILE, 0o644)
}
