//go:build unix

package snapshot

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// This file holds what a restore may not do, told before it tries (a dry
// run predicts it; the restore says why): unprivileged, change entries of
// other users' directories or set the metadata of their entries, or make
// devices; as anyone, change immutable or append-only entries, or what a
// read-only file system holds.

var (
	// errStickyOther says why a sticky directory (such as /tmp) refuses
	// to let a name be replaced or deleted.
	errStickyOther = errors.New("the directory is sticky (as /tmp) and the entry is another user's: " +
		"only its owner, the directory's owner or root may replace or delete it")
	// errDirNotWritable says why a directory refuses a new name.
	errDirNotWritable = errors.New("the directory is another user's and this user may not write in it")
	// errLocked says why an immutable or append-only entry stays, and
	// errDirLocked why an entry of such a directory does.
	errLocked    = errors.New("it is immutable or append-only (chattr +i, +a): not even root may replace or delete it")
	errDirLocked = errors.New("its directory is immutable or append-only (chattr +i, +a): " +
		"not even root may replace or delete what it holds")
	// errNotOwnerMeta is the warning of a dry run about an entry of
	// another user whose metadata the restore would set, which only its
	// owner or root may do.
	errNotOwnerMeta = fmt.Errorf("dry run: chmod, times: %w: it is another user's (the restore warns so)", unix.EPERM)
	// errReadOnlyMeta is that warning about an entry on a file system
	// mounted read-only.
	errReadOnlyMeta = fmt.Errorf("dry run: chmod, times: %w (the restore warns so)", unix.EROFS)
	// errImmutableMeta is that warning about an immutable or
	// append-only entry.
	errImmutableMeta = fmt.Errorf("dry run: chmod, times: %w: it is immutable or append-only (the restore warns so)", unix.EPERM)
)

// lockedIn returns nil when neither name in the directory dfd nor dfd
// stops its deletion or replacement with their flags (lockedFlags), and
// otherwise EPERM, as unlink and rename give, explained: the name is
// immutable or append-only (errLocked), or the directory immutable, or
// append-only while the name is there (errDirLocked).
func lockedIn(dfd int, name string) error {
	dirImm, dirApp, _ := lockedFlags(dfd, "")
	imm, app, there := lockedFlags(dfd, name)
	switch {
	case imm || app:
		return fmt.Errorf("%w: %w", unix.EPERM, errLocked)
	case dirImm || dirApp && there:
		return fmt.Errorf("%w: %w", unix.EPERM, errDirLocked)
	}
	return nil
}

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
// name in the directory dfd (mayDeleteIn, lockedIn), and otherwise the
// error saying why not, explained. A file bind-mounted at name, which the
// rename over it would fail on (EBUSY), is errMountedFile: looked for only
// where something is mounted below the target.
func (a *applier) replaceDenied(dfd int, name string) error {
	if err := a.mayDeleteIn(dfd, name); err != nil {
		return explainDenied(err)
	}
	if a.mountsBelow && mountedFile(dfd, name) {
		return errMountedFile
	}
	return lockedIn(dfd, name)
}

// explain returns err, the error of making, replacing or deleting name in
// dfd, as replaceDenied says it when it is a permission error that
// replaceDenied explains; else err.
func (a *applier) explain(dfd int, name string, err error) error {
	if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EACCES) {
		return err
	}
	if why := a.replaceDenied(dfd, name); why != nil {
		return why
	}
	return err
}

// notOwner reports whether an unprivileged restore may not set the
// metadata of the entry of stat st: it is another user's.
func (a *applier) notOwner(st *unix.Stat_t) bool {
	return !a.isRoot && int(st.Uid) != unix.Geteuid()
}

// metaDenied returns the warning of a dry run about the entry name in dfd
// ("" for dfd itself), of stat st, whose metadata the restore would set
// and may not, or nil: it is another user's, or immutable or append-only,
// or on a file system mounted read-only.
func (a *applier) metaDenied(dfd int, name string, st *unix.Stat_t) error {
	if readOnlyFS(dfd) {
		return errReadOnlyMeta
	}
	if imm, app, _ := lockedFlags(dfd, name); imm || app {
		return errImmutableMeta
	}
	if a.notOwner(st) {
		return errNotOwnerMeta
	}
	return nil
}

// metaWhy returns why setting the metadata of the open file fd failed,
// when it can tell: it is immutable or append-only, or another user's.
func (a *applier) metaWhy(fd int) []error { return a.metaWhyAt(fd, "") }

// metaWhyAt is metaWhy for name in dfd, not followed ("" for dfd).
func (a *applier) metaWhyAt(dfd int, name string) []error {
	var st unix.Stat_t
	if name == "" && fstat(dfd, &st) != nil || name != "" && fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return nil
	}
	if imm, app, _ := lockedFlags(dfd, name); imm || app {
		return []error{errors.New("it is immutable or append-only (chattr +i, +a)")}
	}
	if a.notOwner(&st) {
		return []error{errors.New("it is another user's")}
	}
	return nil
}

// errDevice says why an unprivileged restore makes no device file.
var errDevice = errors.New("only root makes device files")

// deviceDenied returns, for the special file e of S_IFMT type typ, the
// error saying that this restore may not make it, a device, unprivileged;
// else nil.
func (a *applier) deviceDenied(typ uint32) error {
	if a.isRoot || typ != unix.S_IFCHR && typ != unix.S_IFBLK {
		return nil
	}
	return fmt.Errorf("%w: %w", unix.EPERM, errDevice)
}

// warnOwners warns, once, when the process may not give the entries of
// the trees es their owners (it is not root) and some have other owners
// than its own: those it makes or replaces get its own (those found in
// place, or skipped, keep theirs), where wimlib warns about each. The
// devices it may not make are not counted.
func (a *applier) warnOwners(es []*wim.Entry) {
	if !a.unixData || a.isRoot || a.ntfs != nil {
		return
	}
	uid, gid := uint32(unix.Geteuid()), uint32(unix.Getegid())
	n := 0
	eachEntry(es, func(e *wim.Entry) {
		if e.Unix != nil && (e.Unix.UID != uid || e.Unix.GID != gid) && a.deviceDenied(e.Unix.Mode&unix.S_IFMT) == nil {
			n++ // a device it does not make is reported on its own
		}
	})
	if n > 0 {
		entries := "entries"
		if n == 1 {
			entries = "entry"
		}
		a.warnPath(nil, false, fmt.Errorf("owners not set on %d %s: only root gives files to other users or groups; "+
			"those this process makes or replaces belong to its uid %d and gid %d", n, entries, uid, gid))
	}
}
