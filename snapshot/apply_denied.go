//go:build unix

package snapshot

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// This file holds what an unprivileged restore may not do in directories
// of other users, told before it tries (a dry run predicts it; the
// restore says why).

var (
	// errStickyOther says why a sticky directory (such as /tmp) refuses
	// to let a name be replaced or deleted.
	errStickyOther = errors.New("the directory is sticky (as /tmp) and the entry is another user's: " +
		"only its owner, the directory's owner or root may replace or delete it")
	// errDirNotWritable says why a directory refuses a new name.
	errDirNotWritable = errors.New("the directory is another user's and this user may not write in it")
	// errNotOwnerMeta is the warning of a dry run about an entry of
	// another user whose metadata the restore would set, which only its
	// owner or root may do.
	errNotOwnerMeta = fmt.Errorf("dry run: chmod, times: %w: it is another user's (the restore warns so)", unix.EPERM)
)

// explainDenied adds to err, when it is mayDeleteIn's, why the directory
// refuses the change: errStickyOther or errDirNotWritable.
func explainDenied(err error) error {
	switch {
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("%w: %w", err, errStickyOther)
	case errors.Is(err, unix.EACCES):
		return fmt.Errorf("%w: %w", err, errDirNotWritable)
	}
	return err
}

// replaceDenied returns nil when the restore may make, replace or delete
// name in the directory dfd (mayDeleteIn), and otherwise the error
// saying why not, explained.
func (a *applier) replaceDenied(dfd int, name string) error {
	if err := a.mayDeleteIn(dfd, name); err != nil {
		return explainDenied(err)
	}
	return nil
}

// notOwner reports whether an unprivileged restore may not set the
// metadata of the entry of stat st: it is another user's.
func (a *applier) notOwner(st *unix.Stat_t) bool {
	return !a.isRoot && int(st.Uid) != unix.Geteuid()
}
