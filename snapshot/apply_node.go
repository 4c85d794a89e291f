//go:build unix

package snapshot

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// This file holds how Apply creates the entries that are not directories
// or regular files: hard links, symlinks and special files, and how it sets
// metadata by name.

// hardlink links the new name in dfd to the first name of g.
func (a *applier) hardlink(dfd int, name string, g *linkGroup) error {
	ofd, err := a.openPath(g.at.dir.comps())
	if err != nil {
		return err
	}
	defer a.closeOpened(ofd)
	old := g.at.name
	return replaceNode(dfd, name, func() error { return unix.Linkat(ofd, old, dfd, name, 0) })
}

// linkName makes name in dfd (at a.path), e, a further name of the file
// g and reports whether it did; when not, the caller writes a copy. A
// file whose contents failed is removed (dropFailed), and gets no further
// name: its copies fail in their turn, each reported.
func (a *applier) linkName(dfd int, name string, e *wim.Entry, g *linkGroup) bool {
	if a.unfilled.hasFailed(g.at) {
		return false
	}
	if err := a.hardlink(dfd, name, g); err != nil {
		if !a.unfilled.hasFailed(g.at) { // else removed meanwhile
			a.warn(false, fmt.Errorf("hard link to %s failed, writing a copy: %w", strings.Join(g.at.comps(), "/"), err))
		}
		return false
	}
	if !a.unfilled.link(g.at, a.here()) {
		_ = unix.Unlinkat(dfd, name, 0) // its contents failed meanwhile
		return false
	}
	if a.ntfs != nil {
		a.ntfsLinked = append(a.ntfsLinked, ntfsLinked{at: a.here(), e: e})
	}
	a.files.Add(1)
	return true
}

// openPath opens the directory below the target named by comps, following
// no symlink.
func (a *applier) openPath(comps []string) (int, error) {
	if len(comps) == 0 {
		return a.rootFD, nil
	}
	return openBeneath(a.rootFD, comps, unix.O_RDONLY|unix.O_DIRECTORY) // one call, not one per component
}

// closeOpened closes a directory openPath opened (not the root's).
func (a *applier) closeOpened(dfd int) {
	if dfd != a.rootFD {
		closeFD(dfd)
	}
}

// symlink creates the symlink e in dfd, keeps the one in place
// (keepLink), or defers it to the pass that follows the walk when its
// reparse data lies in a solid resource or a pack (deferLink).
func (a *applier) symlink(dfd int, e *wim.Entry) {
	if a.inPlace() && a.ntfs == nil && a.keepLink(dfd, e) {
		return
	}
	if !a.deferLink(e) {
		a.makeSymlink(&a.walkX, dfd, e, a.path)
	}
}

// makeSymlink makes the symlink e in dfd (path naming it from the
// target), or keeps the one there; x is the goroutine's scratch space.
func (a *applier) makeSymlink(x *xattrBufs, dfd int, e *wim.Entry, path []string) {
	if a.ntfs != nil {
		a.ntfsReparse(dfd, e, path)
		return
	}
	target, err := a.linkTarget(e)
	if err != nil {
		a.warnPath(path, true, err)
		return
	}
	name := e.Name
	var st unix.Stat_t
	if a.opts.InPlace && a.sameNode(dfd, e, target, &st) {
		a.symlinks.Add(1)
		a.unchanged.Add(1)
		a.keepNode(x, dfd, e, path, &st)
		return
	}
	if err := a.makeNode(dfd, name, path, func(at string) error { return unix.Symlinkat(target, dfd, at) }); err != nil {
		a.warnPath(path, true, fmt.Errorf("symlink: %w", err))
		return
	}
	a.symlinks.Add(1)
	a.setMetaAt(dfd, e, path)
}

// linkTarget returns the UNIX target of the reparse point e.
func (a *applier) linkTarget(e *wim.Entry) (string, error) {
	x := e.Ext
	if x == nil {
		x = &wim.EntryExt{} // no reparse data: tag 0
	}
	if x.ReparseTag != wim.ReparseTagSymlink && x.ReparseTag != wim.ReparseTagMountPoint {
		return "", fmt.Errorf("reparse point with tag %#x cannot be applied on UNIX; skipped", x.ReparseTag)
	}
	var data []byte
	if !x.Reparse.Hash.IsZero() {
		var err error
		if data, err = readReparse(a.src, x.Reparse.Hash); err != nil {
			return "", &streamReadError{op: "reparse data", err: err} // damaged or missing data, counted as a file's
		}
	}
	return a.targetOf(x, data)
}

// keepLink keeps the symlink e when dfd holds it with the snapshot's
// target, without reading e's reparse data: the data its target there
// would be captured as (wim.SymlinkReparse) must hash to e's reparse
// stream and give back that target as e's data would. It reports whether
// it kept the link; when it did not, nothing was changed.
func (a *applier) keepLink(dfd int, e *wim.Entry) bool {
	x := e.Ext
	if x == nil || x.Reparse.Hash.IsZero() {
		return false
	}
	var st unix.Stat_t
	if fstatat(dfd, e.Name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK ||
		st.Size < 0 || st.Size >= maxReparse || st.Nlink != 1 { // keepNode would set another name's metadata
		return false
	}
	have, ok := readLinkAt(dfd, e.Name, st.Size)
	if !ok {
		return false
	}
	data, _ := wim.SymlinkReparse(have, a.absTarget)
	if wim.Hash(sha1.Sum(data)) != x.Reparse.Hash {
		return false
	}
	if target, err := a.targetOf(x, data); err != nil || target != have {
		return false
	}
	a.symlinks.Add(1)
	a.unchanged.Add(1)
	a.keepNode(&a.walkX, dfd, e, a.path, &st)
	return true
}

// targetOf returns the UNIX target of the reparse point whose extra
// fields are x and whose reparse data is data.
func (a *applier) targetOf(x *wim.EntryExt, data []byte) (string, error) {
	st, err := wim.ParseSymlinkReparse(x.ReparseTag, data)
	if err != nil {
		return "", err
	}
	target := st.Target
	switch {
	case !st.Relative && x.ReparseFlags&wim.ReparseNotFixed == 0:
		// Fixed at capture: relative to the captured root, now the target.
		target = strings.TrimSuffix(a.absTarget, "/") + target
	case target == "":
		target = "/"
	}
	if strings.IndexByte(target, 0) >= 0 {
		return "", errors.New("symlink target contains NUL; skipped")
	}
	return target, nil
}

// specialType returns the S_IFMT type of a FIFO, socket or device entry,
// or 0.
func (a *applier) specialType(e *wim.Entry) uint32 {
	if !a.unixData {
		return 0
	}
	return unixSpecialType(e)
}

// specialFile makes the FIFO, socket or device e in dfd, keeps the one in
// place, or, for a further name of an inode the image hard-links, links
// it to the first name.
func (a *applier) specialFile(dfd int, e *wim.Entry) {
	name := e.Name
	var st unix.Stat_t
	if a.inPlace() && a.sameNode(dfd, e, "", &st) {
		a.special.Add(1)
		a.unchanged.Add(1)
		a.keepNode(&a.walkX, dfd, e, a.path, &st)
		a.addLinkGroup(e, &st)
		return
	}
	if g := a.links[e.LinkID]; e.LinkID != 0 && g != nil && a.linkSpecial(dfd, e, g) {
		a.special.Add(1)
		return
	}
	mode := a.specialType(e) | 0o600
	err := a.makeNode(dfd, name, a.path, func(at string) error { return unix.Mknodat(dfd, at, mode, int(e.Unix.Rdev)) })
	if derr := a.deviceDenied(a.specialType(e)); errors.Is(err, unix.EPERM) && derr != nil {
		err = derr // says why
	}
	if err != nil {
		a.warn(true, fmt.Errorf("mknod: %w", err))
		return
	}
	a.special.Add(1)
	a.setMetaAt(dfd, e, a.path)
	a.addLinkGroup(e, &unix.Stat_t{}) // a new inode: its further names link to it
}

// linkSpecial makes e.Name in dfd a further name of the special file g
// and reports whether it did; when not, the caller makes a node of its
// own.
func (a *applier) linkSpecial(dfd int, e *wim.Entry, g *linkGroup) bool {
	ofd, err := a.openPath(g.at.dir.comps())
	if err == nil {
		defer a.closeOpened(ofd)
		old := g.at.name
		err = a.makeNode(dfd, e.Name, a.path, func(at string) error { return unix.Linkat(ofd, old, dfd, at, 0) })
	}
	if err != nil {
		a.warn(false, fmt.Errorf("hard link to %s failed, making a node of its own: %w", strings.Join(g.at.comps(), "/"), err))
		return false
	}
	return true
}

// setMetaAt sets owner, xattrs, mode and times of the symlink or special
// file e in dfd without following it; path names it in warnings. It
// reports whether all of them were set.
func (a *applier) setMetaAt(dfd int, e *wim.Entry, path []string) bool {
	name := e.Name
	var errs []error
	if a.unixData && e.Unix != nil && a.isRoot {
		if err := unix.Fchownat(dfd, name, int(e.Unix.UID), int(e.Unix.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			errs = append(errs, fmt.Errorf("chown: %w", err))
		}
	}
	if a.unixData && len(e.Xattrs) > 0 {
		p := a.xattrPath(dfd, name, path)
		for _, x := range e.Xattrs {
			if err := unix.Lsetxattr(p, x.Name, x.Value, 0); err != nil {
				errs = append(errs, fmt.Errorf("xattr %q: %w", x.Name, err))
			}
		}
	}
	if a.inheritsACL.Load() && !e.IsReparse() { // a symlink has no ACL
		t := xattrTarget{fd: -1, dfd: -1, name: append([]byte(a.xattrPath(dfd, name, path)), 0)}
		errs = append(errs, a.dropInheritedACLs(t, e, false)...)
	}
	if !e.IsReparse() {
		if err := chmodNoFollow(dfd, name, a.mode(e, false)); err != nil {
			errs = append(errs, fmt.Errorf("chmod: %w", err))
		}
	}
	ts := timespecs(e)
	if err := unix.UtimesNanoAt(dfd, name, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		errs = append(errs, fmt.Errorf("times: %w", err))
	}
	set := len(errs) == 0
	if !set {
		errs = append(errs, a.metaWhyAt(dfd, name)...)
	}
	if err := a.clampNote(e); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		a.warnPath(path, false, joinErrs(errs...))
	}
	return set
}

func (a *applier) xattrPath(dfd int, name string, path []string) string {
	if a.procFD {
		return "/proc/self/fd/" + strconv.Itoa(dfd) + "/" + name
	}
	return a.display(path)
}

// checkName refuses names that could address something outside their
// directory.
func checkName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("refusing entry name %q", name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("refusing entry name %q: it contains '/' or NUL", name)
	}
	return nil
}

// errDirInWay is a directory where a file is to be, which the restore may
// not delete.
var errDirInWay = errors.New("a directory is in the way and is kept (only restore --delete replaces one, and never one that holds excluded paths)")

// errRegularInWay is createRegular's error for a regular file in the way.
var errRegularInWay = errors.New("a regular file is in the way")

// createRegular creates the empty file name in dfd, open for writing. A
// regular file of that name is left alone (errRegularInWay), for the
// caller to replace whole; another non-directory is removed first.
func createRegular(dfd int, name string) (int, error) {
	fd := -1
	create := func() (err error) {
		fd, err = unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		return err
	}
	err := create()
	if errors.Is(err, unix.EEXIST) {
		var st unix.Stat_t
		if fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
			return -1, errRegularInWay
		}
		err = replaceNode(dfd, name, create)
	}
	return fd, err
}

// replaceNode runs mk; if the name exists and is not a directory, it is
// removed and mk runs again.
func replaceNode(dfd int, name string, mk func() error) error {
	err := mk()
	if !errors.Is(err, unix.EEXIST) {
		return err
	}
	if isDirAt(dfd, name) {
		return errDirInWay
	}
	if err := unix.Unlinkat(dfd, name, 0); err != nil && err != unix.ENOENT {
		return err
	}
	return mk()
}
