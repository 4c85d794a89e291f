//go:build unix

package snapshot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// planApply is Apply with DryRun: it walks the image against the target,
// counting what an in-place apply would write, keep and delete, and
// writes nothing.
func planApply(ctx context.Context, m *wim.Metadata, src StreamSource, target string, opts ApplyOptions) (ApplyStats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a := &applier{ctx: ctx, cancel: cancel, src: src, opts: opts, target: target, absTarget: target, rootFD: -1,
		unixData: !opts.NoUnixData, isRoot: os.Geteuid() == 0}
	a.opts.InPlace = true
	if _, err := os.Stat("/proc/self/fd"); err == nil {
		a.procFD = true
	}
	fd, err := openDir(unix.AT_FDCWD, target, false)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return ApplyStats{}, fmt.Errorf("apply target: %w", &os.PathError{Op: "open", Path: target, Err: err})
	}
	if err != nil {
		if err := targetMakeable(target); err != nil {
			return ApplyStats{}, fmt.Errorf("apply target: %w", err)
		}
		fd = -1
	}
	if fd >= 0 {
		if a.guard, err = newGuard(fd, opts.Keep); err != nil {
			closeFD(fd)
			return ApplyStats{}, &os.PathError{Op: "stat", Path: target, Err: err}
		}
		if err := a.probeNTFS(fd, m); err != nil { // as the restore decides
			closeFD(fd)
			return ApplyStats{}, err
		}
		a.clampsTimes = clampsTimes(fd)
		a.mountsBelow = opts.InPlace && mountsBelow(fd)
	}
	a.foldCase = foldsAbove(target, a.walkBuffer()) // writing nothing, as foldsCase would
	a.dirs.Add(1)
	a.applied = []*wim.Entry{m.Root}
	a.warnOwners(a.applied)
	perr := a.plan(fd, m.Root)
	if fd >= 0 {
		closeFD(fd)
	}
	if fatal := a.fatalErr(); fatal != nil { // out of descriptors, as the apply would be
		return a.statsSnapshot(), fatal
	}
	return a.statsSnapshot(), perr
}

// targetMakeable returns the error with which Apply's MkdirAll would fail
// to make the missing directory target, as far as its nearest existing
// ancestor tells: the shallowest missing directory cannot be made in it
// (not a directory, no permission to write in it, a read-only file
// system); nil otherwise.
func targetMakeable(target string) error {
	missing := filepath.Clean(target)
	for {
		parent := filepath.Dir(missing)
		var st unix.Stat_t
		err := unix.Stat(parent, &st)
		switch {
		case errors.Is(err, unix.ENOENT) && parent != missing:
			missing = parent
			continue
		case err != nil:
			return nil // MkdirAll tells
		case st.Mode&unix.S_IFMT != unix.S_IFDIR:
			err = unix.ENOTDIR
		default:
			err = unix.Faccessat(unix.AT_FDCWD, parent, unix.W_OK|unix.X_OK, unix.AT_EACCESS)
		}
		if err != nil {
			return &os.PathError{Op: "mkdir", Path: missing, Err: err}
		}
		return nil
	}
}

// plan counts the children of e against the directory dfd (-1: missing),
// and warns as finishDir would about e's metadata.
func (a *applier) plan(dfd int, e *wim.Entry) error {
	depth := len(a.path)
	outer := a.touched
	a.touched = false
	defer func() { a.touched = outer }()
	if dfd >= 0 {
		a.deleteExtra(dfd, e, nil) // counts only (DryRun), before the children as dir deletes
	}
	first := firstNames(e.Children) // duplicates and names the target cannot tell apart are skipped, as dir does
	folded := a.foldedNames(len(e.Children))
	for i, ch := range e.Children {
		if err := a.ctx.Err(); err != nil {
			return err
		}
		if a.skipChild(ch, i, first, depth) {
			continue
		}
		a.path = append(a.path[:depth], ch.Name)
		if err := foldClash(folded, ch.Name); err != nil {
			a.warn(true, err)
			continue
		}
		if err := a.planEntry(dfd, ch); err != nil {
			return err
		}
	}
	a.path = a.path[:depth]
	if dfd >= 0 {
		a.planDirMeta(dfd, e)
	}
	return nil
}

// planDirMeta warns, as finishDir and retime would (once), about the
// directory e found in place as fd whose metadata the restore sets (it
// differs, or the restore changes what the directory holds) while it is
// another user's, or immutable.
func (a *applier) planDirMeta(fd int, e *wim.Entry) {
	var st unix.Stat_t
	if a.passage(e) || fstat(fd, &st) != nil || !a.touched && a.sameDirMeta(fd, e) {
		return
	}
	if err := a.metaDenied(fd, "", &st); err != nil {
		a.warn(false, err)
	}
}

// planDenied reports whether the restore may not make or replace name in
// dfd (replaceDenied), having warned and counted it skipped as the
// restore does. A name in a directory still to be made (dfd -1) is
// never denied.
func (a *applier) planDenied(dfd int, name string) bool {
	if dfd < 0 {
		return false
	}
	err := a.replaceDenied(dfd, name)
	if err != nil {
		a.warn(true, fmt.Errorf("dry run: cannot make or replace it: %w", err))
		return true
	}
	a.touched = true
	return false
}

func (a *applier) planEntry(dfd int, e *wim.Entry) error {
	var st unix.Stat_t
	exists := dfd >= 0 && fstatat(dfd, e.Name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
	if e.IsDir() {
		isDir := exists && st.Mode&unix.S_IFMT == unix.S_IFDIR
		if !isDir && a.planDenied(dfd, e.Name) { // mkdir or its swap fails
			return nil
		}
		if exists && !isDir { // swapInDir removes it
			a.noteDryUnlink(dfd, e.Name)
			a.deleted.Add(1)
		}
		sub, ok := a.planOpenDir(dfd, e, isDir)
		if !ok {
			return nil
		}
		if sub >= 0 && a.intoMount(e) {
			closeFD(sub)
			return nil
		}
		if sub >= 0 {
			defer closeFD(sub)
		}
		a.dirs.Add(1)
		return a.plan(sub, e)
	}
	var target string // of a symlink, on Linux
	if e.IsReparse() && a.ntfs == nil {
		if o, ok := a.src.(solidOrderer); ok && e.Ext != nil && !e.Ext.Reparse.Hash.IsZero() {
			// Announced, as the restore announces what it reads: a
			// repository's source then fetches this stream's part of
			// its pack, not the whole window (a dry run from S3 fetched
			// every pack that held a symlink's target).
			o.SolidOrder(e.Ext.Reparse.Hash)
		}
		var err error
		if target, err = a.linkTarget(e); err != nil { // makeSymlink skips it, whatever is in its place
			a.warn(true, err)
			return nil
		}
	}
	if exists && st.Mode&unix.S_IFMT == unix.S_IFDIR { // a directory in the way
		if err := a.clearDirInWay(dfd, e.Name, a.path); err != nil { // kept, as the restore keeps it
			a.warn(true, err)
			return nil
		}
	}
	switch {
	case e.IsReparse() && a.ntfs != nil:
		if exists && e.Ext != nil && a.planSameReparse(dfd, e) {
			a.symlinks.Add(1)
			a.unchanged.Add(1)
		} else if !a.planDenied(dfd, e.Name) {
			a.symlinks.Add(1)
		}
	case e.IsReparse():
		switch {
		case exists && a.sameNode(dfd, e, target, &st):
			a.symlinks.Add(1)
			a.planKeptNode(dfd, e, &st)
		case !a.planDenied(dfd, e.Name):
			a.symlinks.Add(1)
		}
	case a.specialType(e) != 0:
		a.planSpecial(dfd, e, exists, &st)
	case a.ntfs != nil && exists && st.Mode&unix.S_IFMT == unix.S_IFLNK && a.sameInterix(dfd, e, a.path):
		a.files.Add(1) // an Interix link, as ntfs-3g shows one
		a.unchanged.Add(1)
	default:
		a.planRegular(dfd, e, exists && st.Mode&unix.S_IFMT == unix.S_IFREG, &st)
	}
	return nil
}

// planSpecial counts the special file e as specialFile would apply it: kept
// when sameNode finds it in place (exists says something is there, of
// stat st), linked to its first name when the image hard-links it, else
// made, unless the directory or the device refuses it.
func (a *applier) planSpecial(dfd int, e *wim.Entry, exists bool, st *unix.Stat_t) {
	g := a.links[e.LinkID]
	switch {
	case exists && a.sameNode(dfd, e, "", st):
		a.special.Add(1)
		a.planKeptNode(dfd, e, st)
		a.addLinkGroup(e, st)
	case e.LinkID != 0 && g != nil:
		if !a.planDenied(dfd, e.Name) {
			a.special.Add(1)
		}
	case a.deviceDenied(a.specialType(e)) != nil:
		a.warn(true, fmt.Errorf("dry run: mknod: %w", a.deviceDenied(a.specialType(e))))
	case !a.planDenied(dfd, e.Name):
		a.special.Add(1)
		a.addLinkGroup(e, &unix.Stat_t{}) // a new inode: its further names link to it
	}
}

// planSameReparse reports whether dfd holds the reparse point e as the
// image has it, through ntfs-3g (ntfsSameReparse).
func (a *applier) planSameReparse(dfd int, e *wim.Entry) bool {
	buf, err := a.ntfsReparseBuffer(e)
	return err == nil && a.ntfsSameReparse(dfd, e, buf, a.path)
}

// planRegular counts the regular file e as regular and replaceFile would
// apply it in place: a further name of an inode already planned is linked
// (kept when it is that inode), a file whose size, times and metadata
// match is kept, one whose metadata alone differs is kept when its
// contents match (warned about when it is another user's), and any other
// is written, or skipped when the directory refuses it (planDenied).
// isReg says that a regular file is there, with stat st.
func (a *applier) planRegular(dfd int, e *wim.Entry, isReg bool, st *unix.Stat_t) {
	if g := a.links[e.LinkID]; e.LinkID != 0 && g != nil && g.hash == e.Data.Hash {
		switch {
		case isReg && g.ino == st.Ino && g.dev == st.Dev:
			a.files.Add(1)
			a.unchanged.Add(1)
		case !a.planDenied(dfd, e.Name):
			a.files.Add(1)
		}
		return
	}
	switch {
	case !isReg || a.linkCount(st) > a.imageNames(e):
	case a.sameFile(&a.walkX, dfd, e, st, a.path):
		a.files.Add(1)
		a.unchanged.Add(1)
		a.addLinkGroup(e, st)
		return
	case st.Size == e.Data.Size && st.Size > 0 && a.oneName(e, st) && a.planSameContents(dfd, e):
		a.files.Add(1)
		a.unchanged.Add(1)
		if a.planOwnerMeta(dfd, e.Name, st) {
			a.fixed.Add(1)
		}
		a.addLinkGroup(e, st)
		return
	}
	if a.planDenied(dfd, e.Name) {
		return
	}
	if isReg {
		a.noteDryUnlink(dfd, e.Name) // replaced, the name leaves the inode's others
	}
	a.files.Add(1)
	a.bytes.Add(e.Data.Size)
	a.addLinkGroup(e, &unix.Stat_t{}) // a new inode: its further names link to it
}

// planKeptNode counts the symlink or special file e.Name in dfd, of stat
// st, as kept, and as fixed when keepNode would set its metadata and may
// (else it is warned about).
func (a *applier) planKeptNode(dfd int, e *wim.Entry, st *unix.Stat_t) {
	a.unchanged.Add(1)
	if same, sameXattrs := a.nodeMetaSame(&a.walkX, dfd, e, a.path, st); (!same || !sameXattrs) && a.planOwnerMeta(dfd, e.Name, st) {
		a.fixed.Add(1)
	}
}

// planOwnerMeta reports whether the restore may set the metadata of the
// entry name in dfd, of stat st; if not (metaDenied) it warns, as the
// restore would.
func (a *applier) planOwnerMeta(dfd int, name string, st *unix.Stat_t) bool {
	if err := a.metaDenied(dfd, name, st); err != nil {
		a.warn(false, err)
		return false
	}
	return true
}

// planSameContents reports whether the file e.Name in dfd holds e's
// contents, reading it as replaceFile does.
func (a *applier) planSameContents(dfd int, e *wim.Entry) bool {
	fd := openSame(dfd, e, a.walkBuffer())
	if fd >= 0 {
		closeFD(fd)
	}
	return fd >= 0
}

// errDryUnlisted is the warning of a dry run about a directory it may not
// list, which the restore, running as its owner, opens to itself first
// (openOwnDir): what it holds is not counted as the restore counts it.
var errDryUnlisted = errors.New("dry run: cannot look inside (no permission to read it, which the restore, " +
	"as its owner, gives itself): what it holds is not counted")

// planOpenDir opens the directory e.Name in dfd, when one is there
// (isDir), for a dry run to compare what it holds, and returns -1 when
// there is none, as for a directory to be made. It reports false, having
// warned and counted it skipped as the restore does, when the restore
// could not enter it either; for one the restore opens to itself, it
// warns that it cannot look inside and returns -1.
func (a *applier) planOpenDir(dfd int, e *wim.Entry, isDir bool) (int, bool) {
	if !isDir {
		return -1, true
	}
	fd, err := openDir(dfd, e.Name, true)
	if err == nil && a.unsearchableOwn(fd) {
		closeFD(fd)
		err = unix.EACCES // as for one it may not read
	}
	if err == nil {
		a.noteMountRoot(fd, e)
		return fd, true
	}
	if _, own := a.closedOwnDir(dfd, e.Name, err); own && !a.opts.Passages[e] {
		// The restore opens it to itself, then finds it a mount root as
		// the walk does: looked at through a path descriptor, which needs
		// no permission on it.
		if pfd, perr := unix.Openat(dfd, e.Name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); perr == nil {
			a.noteMountRoot(pfd, e)
			closeFD(pfd)
		}
		if a.intoMount(e) {
			return -1, false
		}
		a.warn(false, errDryUnlisted)
		return -1, true
	}
	a.warn(true, fmt.Errorf("open directory: %w", err))
	return -1, false
}

// unsearchableOwn reports whether the directory fd is the unprivileged
// user's own and readable but not searchable (mode 644, say): a dry run
// can list it but look at nothing in it, which the restore, as its owner,
// opens to itself first (widen).
func (a *applier) unsearchableOwn(fd int) bool {
	var st unix.Stat_t
	return !a.isRoot && fstat(fd, &st) == nil && int(st.Uid) == unix.Geteuid() &&
		unix.Faccessat(fd, ".", unix.X_OK, unix.AT_EACCESS) != nil
}

// keptOnPurpose reports whether err is one remove keeps a directory
// with, as asked (errHoldsExcluded) or for what the guard leaves alone,
// rather than a failure.
func keptOnPurpose(err error) bool {
	return errors.Is(err, errHoldsExcluded) || errors.Is(err, errHoldsLeftAlone) || errors.Is(err, errLeftAlone)
}

// dryRemove counts the entries remove would delete of name in dfd, whose
// path from the target is path, as remove counts them: a directory with
// everything in it. When name itself would stay, it returns why: as
// remove would fail, or errHoldsExcluded, errHoldsLeftAlone for a
// directory above what guard leaves alone, errLeftAlone for that
// directory itself, warned about here. A name the restore may not delete
// (replaceDenied) stays, with unlink's error explained, as remove's; a
// directory that stays for the sticky bit or its flags (EPERM) is emptied
// first, as removeDir empties it before its rmdir fails.
func (a *applier) dryRemove(dfd int, name, path string) (n int64, kept error) {
	if mountedFile(dfd, name) { // as remove
		a.warnPath(splitPath(path), false, errMountPoint)
		return 0, errLeftAlone
	}
	denied := a.replaceDenied(dfd, name)
	if errors.Is(denied, unix.EACCES) || errors.Is(denied, unix.EROFS) { // remove's unlink fails
		return 0, denied
	}
	if !isDirAt(dfd, name) {
		if denied != nil {
			return 0, denied
		}
		a.noteDryUnlink(dfd, name)
		return 1, nil
	}
	fd, err := openDir(dfd, name, true)
	if err == nil && a.unsearchableOwn(fd) {
		closeFD(fd)
		err = unix.EACCES // as for one it may not read
	}
	if err != nil {
		return a.dryUnopened(dfd, name, path, err)
	}
	defer closeFD(fd)
	if err := a.guard.leaveAlone(fd); err != nil {
		a.warnPath(splitPath(path), false, err)
		return 0, errLeftAlone
	}
	names, filtered, failed := a.deletableNames(fd, path)
	if filtered {
		kept = errHoldsExcluded
	}
	for _, c := range names {
		p := path + "/" + c
		m, k := a.dryRemove(fd, c, p)
		n += m
		switch {
		case errors.Is(k, errLeftAlone):
			k = errHoldsLeftAlone
		case k != nil && !keptOnPurpose(k):
			failed = errors.Join(failed, fmt.Errorf("%s: %w", p, k))
			continue
		}
		kept = cmp.Or(kept, k)
	}
	if failed != nil {
		return n, failed
	}
	if kept != nil {
		return n, kept
	}
	if denied != nil { // removeDir's rmdir fails
		return n, denied
	}
	return n + 1, nil
}

// dryUnopened is dryRemove for the directory name in dfd that it could not
// open (err). The restore, as the unprivileged owner of a directory it may
// not read, opens it to itself first and deletes it with what it holds,
// which a dry run, changing nothing, cannot list: it counts the directory
// alone and warns so. Any other the restore fails to delete, for err.
func (a *applier) dryUnopened(dfd int, name, path string, err error) (int64, error) {
	if _, own := a.closedOwnDir(dfd, name, err); !own {
		return 0, err
	}
	a.warnPath(splitPath(path), false, errDryUnlisted)
	return 1, nil
}

// noteDryUnlink counts in dryUnlinked the name in dfd, which the dry run
// would delete or replace, when it is one of several of a regular file.
func (a *applier) noteDryUnlink(dfd int, name string) {
	var st unix.Stat_t
	if fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink < 2 {
		return
	}
	if a.dryUnlinked == nil {
		a.dryUnlinked = map[devIno]uint64{}
	}
	a.dryUnlinked[devIno{uint64(st.Dev), st.Ino}]++
}
