//go:build unix

package snapshot

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// An apply creates each new regular file empty on the walk and fills it
// later on a worker (or after the walk, for data in solid resources). When
// the apply stops early (a full disk, an interrupt), the files created and
// not yet filled would stay as empty files with mode 0600 that look like
// the image's. unfilledFiles tracks them so that they are removed: the
// target holds only files written whole, and running the apply again
// writes the rest. The further names of a hard-linked file, linked to it
// before it is filled, go with it.
//
// A new file whose contents cannot be written (its data in the source is
// damaged or missing) is removed the same way, at once, with the names
// linked to it (dropFailed): an empty file would pass for the image's.
type unfilledFiles struct {
	mu     sync.Mutex
	set    map[pathAt][]pathAt // a new, empty file: the names linked to it
	failed map[pathAt]bool     // files removed by dropFailed: nothing links to them
}

// add records the new, empty file at p.
func (u *unfilledFiles) add(p pathAt) {
	u.mu.Lock()
	if u.set == nil {
		u.set = make(map[pathAt][]pathAt)
	}
	u.set[p] = nil
	u.mu.Unlock()
}

// link records that the name at p was linked to the file at first, if
// that is not filled yet. It reports false when first failed (see fail):
// the caller removes the name it linked.
func (u *unfilledFiles) link(first, p pathAt) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if names, ok := u.set[first]; ok {
		u.set[first] = append(names, p)
	}
	return !u.failed[first]
}

// fail records that the file at p could not be filled and is to be
// removed: it leaves the set, and names linked to it from now on are
// refused (link). It returns the names linked to it so far.
func (u *unfilledFiles) fail(p pathAt) []pathAt {
	u.mu.Lock()
	defer u.mu.Unlock()
	names := u.set[p]
	delete(u.set, p)
	if u.failed == nil {
		u.failed = make(map[pathAt]bool)
	}
	u.failed[p] = true
	return names
}

// hasFailed reports whether fail was called for the file at p.
func (u *unfilledFiles) hasFailed(p pathAt) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.failed[p]
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
// each only while it is still an empty regular file whose names are all
// this run's (the one it was created with and those linked to it). It
// returns how many names it removed, and takes them out of the count of
// files applied.
func (a *applier) removeUnfilled() int {
	removed := 0
	for p, links := range a.unfilled.set { // the workers are done
		st, ok := a.statAt(p)
		if !ok || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != 0 || uint64(st.Nlink) != uint64(1+len(links)) {
			continue
		}
		for _, l := range append(links, p) { // the first name last: it is in the set
			if a.unlinkSame(l, st) {
				removed++
				a.files.Add(-1) // counted when it was created
			}
		}
	}
	return removed
}

// statAt returns the lstat of the entry at p.
func (a *applier) statAt(p pathAt) (unix.Stat_t, bool) {
	var st unix.Stat_t
	dfd, err := a.openPath(p.dir.comps())
	if err != nil {
		return st, false
	}
	defer a.closeOpened(dfd)
	return st, fstatat(dfd, p.name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
}

// unlinkSame removes the name at p if it is still the file of want.
func (a *applier) unlinkSame(p pathAt, want unix.Stat_t) bool {
	dfd, err := a.openPath(p.dir.comps())
	if err != nil {
		return false
	}
	defer a.closeOpened(dfd)
	var st unix.Stat_t
	return fstatat(dfd, p.name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Dev == want.Dev && st.Ino == want.Ino &&
		unix.Unlinkat(dfd, p.name, 0) == nil
}

// dropFailed removes the new file at p, which is st and whose contents
// could not be written for err (not the apply stopping), with the names
// linked to it: each name removed is reported with err, skipped, and no
// longer counted among the files applied. A directory that already has
// its image's mode without owner write permission (0555) is opened to
// the owner for the removal (unlinkInOwnDir). A name that still cannot be
// removed stays, empty (the caller truncated it), and is reported as
// skipped, its warning saying that it stays.
func (a *applier) dropFailed(p pathAt, st unix.Stat_t, err error) {
	for _, l := range append([]pathAt{p}, a.unfilled.fail(p)...) {
		werr := err
		if a.unlinkSame(l, st) || a.unlinkInOwnDir(l, st) {
			a.files.Add(-1)
			a.mu.Lock()
			a.dropped = append(a.dropped, renamedDir{dir: l.dir, e: a.dirEntry(l.dir)})
			a.mu.Unlock()
		} else {
			werr = fmt.Errorf("%w (the file stays, empty: it could not be removed)", err)
		}
		a.warnPath(l.comps(), true, werr)
	}
}

// unlinkInOwnDir is unlinkSame for a name whose directory lacks owner
// write or search permission (its image's mode, given when the walk left
// it): when the apply runs unprivileged as the directory's owner, the
// directory gets u+wx for the removal and its mode back after, as a
// rollback opens such a directory to itself (openToSelf). It reports false
// when the directory needed no change or could not get it. Calls are
// serialised, so that two in one directory never give it back the mode
// the other widened it to.
func (a *applier) unlinkInOwnDir(p pathAt, want unix.Stat_t) bool {
	a.dropMu.Lock()
	defer a.dropMu.Unlock()
	dfd, err := a.openPath(p.dir.comps())
	if err != nil {
		return false
	}
	defer a.closeOpened(dfd)
	m, changed := a.openToSelf(dfd)
	if !changed {
		return false
	}
	defer func() { _ = unix.Fchmod(dfd, m) }()
	return a.unlinkSame(p, want)
}

// dirEntry returns the image's entry of the directory d, or nil for the
// target when its times are not the image's to set (Paths).
func (a *applier) dirEntry(d *dirPath) *wim.Entry {
	switch {
	case d != nil:
		return d.e
	case len(a.opts.Paths) == 0:
		return a.applied[0] // the root
	}
	return nil
}

// retimeDropped gives retime the directories dropFailed removed files
// from (a removal changes a directory's mtime); it runs once the workers
// are done.
func (a *applier) retimeDropped() {
	for _, d := range a.dropped {
		if d.e != nil && !a.renamedSet[d.e] {
			a.renamed = append(a.renamed, d)
			if a.renamedSet == nil {
				a.renamedSet = make(map[*wim.Entry]bool)
			}
			a.renamedSet[d.e] = true
		}
	}
}
