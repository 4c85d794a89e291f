package snapshot

import (
	"errors"
	"strconv"

	"golang.org/x/sys/unix"
)

// errSwapped is chmodNode's error for a name that is a symbolic link now.
var errSwapped = errors.New("it was replaced by a symbolic link meanwhile")

// chmodNode sets the mode of the file name in dfd through a descriptor of
// it opened with O_PATH and O_NOFOLLOW, by its /proc/self/fd name; a
// symbolic link there is refused, not followed.
func chmodNode(dfd int, name string, mode uint32) error {
	fd, err := unix.Openat(dfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer closeFD(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return errSwapped
	}
	return unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), mode)
}
