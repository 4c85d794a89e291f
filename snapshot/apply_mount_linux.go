package snapshot

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// mountID identifies where a file lies: its device (a btrfs subvolume has
// its own, though it shares its parent's mount) and its mount, which also
// tells a directory bind-mounted from the same file system apart. The
// mount is the kernel's mount id from statx (Linux 5.8), else from
// name_to_handle_at; 0 when neither gives it, which leaves the device.
type mountID struct {
	dev, mnt uint64
}

// mountOf returns where the open file fd lies, and its inode number. The
// device is in stat's encoding, whichever call gave it.
func mountOf(fd int) (mountID, uint64, error) {
	var stx unix.Statx_t
	err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &stx)
	for err == unix.EINTR {
		err = unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &stx)
	}
	if err != nil { // no statx (before Linux 4.11, or a seccomp filter)
		var st unix.Stat_t
		if err := fstat(fd, &st); err != nil {
			return mountID{}, 0, err
		}
		return mountID{dev: uint64(st.Dev), mnt: handleMount(fd)}, st.Ino, nil //nolint:unconvert // Dev is 32 bits on some systems
	}
	m := mountID{dev: unix.Mkdev(stx.Dev_major, stx.Dev_minor)}
	if stx.Mask&unix.STATX_MNT_ID != 0 {
		m.mnt = stx.Mnt_id
	} else {
		m.mnt = handleMount(fd)
	}
	return m, stx.Ino, nil
}

// handleMount returns the mount id name_to_handle_at gives for fd, 0 when
// it gives none (a file system without file handles).
func handleMount(fd int) uint64 {
	_, mnt, err := unix.NameToHandleAt(fd, "", unix.AT_EMPTY_PATH)
	if err != nil {
		return 0
	}
	return uint64(mnt) //nolint:gosec // a mount id is not negative
}

// mountedFile reports whether name in the directory dfd, not itself a
// directory, is a mount point: a file bind-mounted there, which unlink
// refuses (EBUSY). It is false where statx gives no mount id.
func mountedFile(dfd int, name string) bool {
	var stx unix.Statx_t
	err := unix.Statx(dfd, name, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_TYPE|unix.STATX_MNT_ID, &stx)
	if err != nil || stx.Mask&unix.STATX_MNT_ID == 0 || stx.Mode&unix.S_IFMT == unix.S_IFDIR {
		return false
	}
	dir, _, err := mountOf(dfd)
	return err == nil && dir.mnt != 0 && dir.mnt != stx.Mnt_id
}

// boundDirs returns the mounts of /proc/self/mountinfo that are bind
// mounts, which may show a directory from outside the tree they are
// mounted in: those that show a directory of their file system other than
// its root, and those that show what another mount shows too (a bind
// mount of a mount's root, such as a container's volume). A file system
// mounted once, whole (a /boot partition), is not one. Nil when mountinfo
// cannot be read.
func boundDirs() map[uint64]bool {
	bound := map[uint64]bool{}
	shows := map[string][]uint64{} // "major:minor root" -> the mounts that show it
	err := eachMount(func(fields []string) {
		if len(fields) < 4 {
			return
		}
		id, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return
		}
		bound[id] = fields[3] != "/"
		key := fields[2] + " " + fields[3]
		shows[key] = append(shows[key], id)
	})
	if err != nil {
		return nil
	}
	for _, ids := range shows {
		for _, id := range ids {
			bound[id] = bound[id] || len(ids) > 1
		}
	}
	return bound
}
