//go:build unix

package snapshot

import (
	"slices"

	"golang.org/x/sys/unix"
)

// An unprivileged chmod keeps the setgid bit only on a file of one of the
// caller's groups: for another group's file (one made in a setgid
// directory of a group the user is not in, say) the kernel drops the bit
// without an error. Such a file cannot get the image's mode, so a rollback
// takes it as having it, as far as it can; else every rerun would set the
// mode again and count the file as fixed.

// sameMode reports whether the mode of st, the stat of an entry in place,
// is want, or is as close to it as this apply can set: want without the
// setgid bit when the kernel would drop that (keepsSetgid).
func (a *applier) sameMode(st *unix.Stat_t, want uint32) bool {
	have := st.Mode & 0o7777
	return have == want || want&unix.S_ISGID != 0 && have == want&^unix.S_ISGID && !a.keepsSetgid(st.Gid)
}

// keepsSetgid reports whether a chmod by this apply keeps the setgid bit
// of a file whose group is gid: as root, or as a member of the group.
func (a *applier) keepsSetgid(gid uint32) bool {
	if a.isRoot || int(gid) == unix.Getegid() {
		return true
	}
	a.groupsOnce.Do(func() {
		gs, err := unix.Getgroups()
		a.groups, a.groupsErr = gs, err != nil // none known: the bit is taken as settable
	})
	return a.groupsErr || slices.Contains(a.groups, int(gid))
}
