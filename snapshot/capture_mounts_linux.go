package snapshot

// A capture on one file system records a mount point as an empty
// directory. A file system mounted in the tree has a device of its own; a
// directory bind-mounted there from the tree's own file system has the
// same device, and only its mount tells it apart.

// mountToCheck returns the mount of the capture root open as fd, against
// which each directory is checked (otherMount), when a file system may be
// mounted below the root (/proc/self/mountinfo); 0, checking none, when
// none is, or when the kernel gives no mount ids. A tree without mounts
// below it thus costs no call per directory.
func mountToCheck(fd int) uint64 {
	if !mountsBelow(fd) {
		return 0
	}
	m, _, err := mountOf(fd)
	if err != nil {
		return 0
	}
	return m.mnt
}

// otherMount reports whether the directory fd lies on a mount other than
// rootMnt, mountToCheck's answer; false when rootMnt is 0.
func otherMount(fd int, rootMnt uint64) bool {
	if rootMnt == 0 {
		return false
	}
	m, _, err := mountOf(fd)
	return err == nil && m.mnt != 0 && m.mnt != rootMnt
}
