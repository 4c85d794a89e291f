//go:build unix

package snapshot

import (
	"errors"

	"golang.org/x/sys/unix"
)

// chmodNoFollow sets the mode of the file name in dfd (a special file, a
// directory), not following a symbolic link put in its place since it was
// made or opened. By name, fchmodat follows one: a rollback as root made a
// file outside the target world-writable for the user who swapped a FIFO
// of theirs for a link to it. fchmodat2 (Linux 6.6) refuses a link
// (EOPNOTSUPP); an older kernel refuses the flag, and the mode goes
// through a descriptor of the node itself (chmodNode).
func chmodNoFollow(dfd int, name string, mode uint32) error {
	err := unix.Fchmodat(dfd, name, mode, unix.AT_SYMLINK_NOFOLLOW)
	if !errors.Is(err, unix.EOPNOTSUPP) {
		return err
	}
	return chmodNode(dfd, name, mode)
}
