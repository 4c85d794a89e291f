//go:build !windows

package remote

import (
	"errors"
	"os"
	"syscall"
)

// SyncDir fsyncs a directory so that the names made or removed in it are
// durable. File systems that cannot sync a directory (EINVAL, ENOTSUP) are
// taken as they are. The local store uses it, and so do commands that
// rename a finished file into place.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, errors.ErrUnsupported) {
		err = nil
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
