//go:build unix

package snapshot

import (
	"errors"
	"sync"

	"golang.org/x/sys/unix"
)

// An apply creates each new regular file empty on the walk and fills it
// later on a worker (or after the walk, for data in solid resources). When
// the apply stops early (a full disk, an interrupt), the files created and
// not yet filled would stay as empty files with mode 0600 that look like
// the image's. unfilledFiles tracks them so that they are removed: the
// target holds only files written whole, and running the apply again
// writes the rest.
type unfilledFiles struct {
	mu  sync.Mutex
	set map[pathAt]struct{}
}

// add records the new, empty file at p.
func (u *unfilledFiles) add(p pathAt) {
	u.mu.Lock()
	if u.set == nil {
		u.set = make(map[pathAt]struct{})
	}
	u.set[p] = struct{}{}
	u.mu.Unlock()
}

// done records that the file at p was filled, or was left empty on
// purpose (with a warning).
func (u *unfilledFiles) done(p pathAt) {
	u.mu.Lock()
	delete(u.set, p)
	u.mu.Unlock()
}

// stoppedBy reports whether err, which stopped a new file's contents, is
// the apply stopping (the disk full, the context done) rather than a
// problem of that file alone.
func (a *applier) stoppedBy(err error) bool {
	return errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) || a.ctx.Err() != nil
}

// removeUnfilled removes the files the apply created and did not fill,
// each only while it is still an empty regular file with one name. It
// returns how many it removed.
func (a *applier) removeUnfilled() int {
	removed := 0
	for p := range a.unfilled.set { // the workers are done
		dfd, err := a.openPath(p.dir.comps())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if fstatat(dfd, p.name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil &&
			st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == 0 && st.Nlink == 1 &&
			unix.Unlinkat(dfd, p.name, 0) == nil {
			removed++
		}
		if dfd != a.rootFD {
			closeFD(dfd)
		}
	}
	return removed
}
