//go:build unix && !linux

package snapshot

import "golang.org/x/sys/unix"

// chmodNode is not needed where fchmodat takes AT_SYMLINK_NOFOLLOW (the
// BSDs, macOS): it reports that the flag was refused.
func chmodNode(int, string, uint32) error { return unix.EOPNOTSUPP }
