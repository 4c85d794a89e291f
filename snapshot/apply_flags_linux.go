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

// timeLimits returns the earliest and latest times, in seconds after the
// UNIX epoch, that the file system of dfd holds, when it is one that
// clamps (clampsTimes): found by setting times beyond any limit on a probe
// file made there, and reading back where the kernel clamped them (ext4
// keeps up to 2038 or 2446 by its inode size, XFS 2038 or 2486 by its
// bigtime feature). The probe is removed and the directory's times put
// back. Both are 0 when the file system does not clamp or the probe
// failed.
func (a *applier) timeLimits(dfd int) (lo, hi int64) {
	if !clampsTimes(dfd) {
		return 0, 0
	}
	a.withProbe(dfd, func(_ string, fd int) {
		limit := func(sec int64) (int64, bool) {
			ts := [2]unix.Timespec{{Sec: sec}, {Sec: sec}}
			var st unix.Stat_t
			if futimens(fd, &ts) != nil || fstat(fd, &st) != nil {
				return 0, false
			}
			return st.Mtim.Sec, true
		}
		var okLo, okHi bool
		lo, okLo = limit(-1 << 40)
		hi, okHi = limit(1 << 40)
		if !okLo || !okHi || lo <= -1<<40 || hi >= 1<<40 {
			lo, hi = 0, 0
		}
	})
	return lo, hi
}
