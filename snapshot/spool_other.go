//go:build !linux

package snapshot

import (
	"errors"
	"os"
)

// openAnon reports errors.ErrUnsupported: only Linux makes linkable files
// without a name. newSpool then names and removes one.
func openAnon(string) (*os.File, error) { return nil, errors.ErrUnsupported }

// startWriteback does nothing: only Linux starts the writeback of a range
// without waiting for it.
func startWriteback(*os.File, int64, int64) {}
