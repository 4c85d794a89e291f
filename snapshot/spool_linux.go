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

// startWriteback starts writing the n bytes of f at off to the disk,
// without waiting for them (sync_file_range with SYNC_FILE_RANGE_WRITE),
// so that a later fsync finds them written or on their way. It is a hint:
// errors are left to that fsync.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
