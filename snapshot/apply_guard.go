//go:build unix

package snapshot

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// A restore with --delete never deletes into a file system other than the
// target's: a file system mounted inside the target (a snapshot taken on
// one file system records its mount point as an empty directory), or a
// directory bind-mounted there from elsewhere, holds data that is not the
// tree's. Nor does it delete the directories ApplyOptions.Keep names: the
// repository and its local index, when they lie inside the target.

var (
	errMountPoint = errors.New("left alone: it is another file system, subvolume or mount, which a restore does not delete into")
	// errMountNotWritten is a directory bind-mounted where the image has
	// entries.
	errMountNotWritten = errors.New("left alone: a directory is bind-mounted there, perhaps from outside the target, which a restore " +
		"does not write into (restore what the snapshot holds there into a new directory)")
	// errMountedFile is a file bind-mounted where the restore would
	// replace it.
	errMountedFile = errors.New("left alone: a file is mounted there (a bind mount), which a restore does not replace")
	// errHoldsLeftAlone keeps the directories above what guard leaves
	// alone.
	errHoldsLeftAlone = errors.New("kept: it holds a mount point, the repository or its local index")
	// errLeftAlone is removeDir's error for a directory guard leaves
	// alone, already warned about; its parents are kept with
	// errHoldsLeftAlone.
	errLeftAlone = errors.New("left alone")
)

// guard tells the directories a restore must not delete into.
type guard struct {
	mount mountID
	keep  map[devIno]bool
}

// newGuard returns the guard of the target open as rootFD, keeping the
// directories of keep that exist.
func newGuard(rootFD int, keep []string) (guard, error) {
	m, _, err := mountOf(rootFD)
	if err != nil {
		return guard{}, err
	}
	g := guard{mount: m}
	for _, p := range keep {
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil {
			if g.keep == nil {
				g.keep = make(map[devIno]bool)
			}
			g.keep[devIno{uint64(st.Dev), st.Ino}] = true //nolint:unconvert // Dev is 32 bits on some systems
		}
	}
	return g, nil
}

// leaveAlone returns why nothing in the open directory fd may be deleted,
// nil if it may.
func (g guard) leaveAlone(fd int) error {
	m, ino, err := mountOf(fd)
	if err != nil {
		return &os.PathError{Op: "stat", Path: ".", Err: err}
	}
	if !sameMount(m, g.mount) {
		return errMountPoint
	}
	if g.keep[devIno{m.dev, ino}] {
		return errKeptDir
	}
	return nil
}

// sameMount reports whether a and b lie on one file system and mount: the
// same device (a nested btrfs subvolume has its own, under its parent's
// mount) and, where both are known, the same mount (a directory
// bind-mounted from the same file system has another).
func sameMount(a, b mountID) bool {
	return a.dev == b.dev && (a.mnt == 0 || b.mnt == 0 || a.mnt == b.mnt)
}
