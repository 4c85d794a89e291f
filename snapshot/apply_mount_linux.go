package snapshot

import "golang.org/x/sys/unix"

// mountID identifies the mount that holds a file: the kernel's mount id,
// which also tells a bind mount of a directory of the same file system
// apart, else (before Linux 5.8) the device number.
type mountID struct {
	id    uint64
	isDev bool
}

// mountOf returns the mount of the open file fd.
func mountOf(fd int) (mountID, error) {
	var stx unix.Statx_t
	for {
		err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &stx)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return mountID{}, err
		}
		break
	}
	if stx.Mask&unix.STATX_MNT_ID != 0 {
		return mountID{id: stx.Mnt_id}, nil
	}
	return mountID{id: uint64(stx.Dev_major)<<32 | uint64(stx.Dev_minor), isDev: true}, nil
}
