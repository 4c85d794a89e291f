//go:build unix && !linux

package snapshot

import "golang.org/x/sys/unix"

// lockedFlags reports that name in dfd ("" for dfd itself) is neither
// immutable nor append-only, which only Linux tells here (statx), and
// whether it is there.
func lockedFlags(dfd int, name string) (immutable, appendOnly, ok bool) {
	var st unix.Stat_t
	if name == "" {
		return false, false, fstat(dfd, &st) == nil
	}
	return false, false, fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
}

// readOnlyFS reports false: only Linux tells here whether a file system
// is mounted read-only.
func readOnlyFS(int) bool { return false }

// clampsTimes reports false: only Linux tells file systems apart here.
func clampsTimes(int) bool { return false }

// timeLimits reports none, as clampsTimes.
func (a *applier) timeLimits(int) (lo, hi int64) { return 0, 0 }
