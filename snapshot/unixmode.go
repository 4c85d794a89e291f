package snapshot

import "github.com/wimsnap/wimsnap/wim"

// unixSpecialType returns the file type bits of e's UNIX data when e is a
// FIFO, socket or device, else 0. The values are POSIX's (S_IFIFO and the
// rest), the same on every platform, so a WIM's UNIX data reads alike
// wherever it is read.
func unixSpecialType(e *wim.Entry) uint32 {
	if e.Unix == nil {
		return 0
	}
	switch t := e.Unix.Mode & 0o170000; t {
	case 0o010000, 0o020000, 0o060000, 0o140000: // FIFO, char device, block device, socket
		return t
	}
	return 0
}
