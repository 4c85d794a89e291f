package snapshot

import "golang.org/x/sys/unix"

// lockedFlags reports whether name in dfd ("" for dfd itself), not
// followed, is immutable or append-only (chattr +i, +a), which keeps
// even root from renaming or deleting it, and an immutable one from
// having its metadata set or, for a directory, names made or deleted in
// it. It reports ok false when name is not there.
func lockedFlags(dfd int, name string) (immutable, appendOnly, ok bool) {
	flags := unix.AT_SYMLINK_NOFOLLOW | unix.AT_STATX_DONT_SYNC
	if name == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	var stx unix.Statx_t
	if unix.Statx(dfd, name, flags, 0, &stx) != nil {
		return false, false, false
	}
	has := func(attr uint64) bool { return stx.Attributes_mask&attr != 0 && stx.Attributes&attr != 0 }
	return has(unix.STATX_ATTR_IMMUTABLE), has(unix.STATX_ATTR_APPEND), true
}

// readOnlyFS reports whether the open file fd lies on a file system
// mounted read-only, where nothing can be made, replaced, deleted or have
// its metadata set.
func readOnlyFS(fd int) bool {
	var st unix.Statfs_t
	return unix.Fstatfs(fd, &st) == nil && int64(st.Flags)&unix.ST_RDONLY != 0
}

// clampsTimes reports whether the file system of fd keeps times only in a
// range and clamps others to its ends (ext2, ext3, ext4, XFS), as far as
// its type tells; tmpfs and btrfs keep them whole.
func clampsTimes(fd int) bool {
	var fs unix.Statfs_t
	if unix.Fstatfs(fd, &fs) != nil {
		return false
	}
	switch int64(fs.Type) {
	case unix.EXT4_SUPER_MAGIC, unix.XFS_SUPER_MAGIC:
		return true
	}
	return false
}
