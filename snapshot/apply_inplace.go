//go:build unix

package snapshot

import (
	"bytes"
	"cmp"
	"crypto/sha1"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// This file holds what ApplyOptions.InPlace adds to Apply (a rollback):
// leaving files that already match alone, replacing changed files through
// a temporary name, and deleting what the image lacks.

// tempName is the temporary name of the n-th file of this run; any
// goroutine may call it.
func (a *applier) tempName() string {
	return fmt.Sprintf("%s%s-%d.tmp", tempPrefix, a.token, a.tempSeq.Add(1))
}

// withProbe makes an empty file in the target's top directory dfd under a
// temporary name, calls fn with its name and a descriptor open for
// writing, then removes it and puts the directory's times back, so that
// the probe is not a change. Where the file cannot be made, or could not
// be removed (a directory that is immutable or append-only: chattr +i,
// +a), fn is not called; a probe that could not be removed after all is
// warned about, by name.
func (a *applier) withProbe(dfd int, fn func(name string, fd int)) {
	var dir unix.Stat_t
	if fstat(dfd, &dir) != nil {
		return
	}
	if imm, app, _ := lockedFlags(dfd, ""); imm || app {
		return
	}
	name := a.tempName()
	fd, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return
	}
	fn(name, fd)
	closeFD(fd)
	if err := unix.Unlinkat(dfd, name, 0); err != nil {
		a.warnPath(nil, false, fmt.Errorf("could not remove %s, a file made to probe the file system: %w", name, err))
	}
	ts := [2]unix.Timespec{dir.Atim, dir.Mtim}
	_ = futimens(dfd, &ts)
}

// inPlaceRegular looks at what the name of the regular file e holds in
// dfd. It reports done when regular has nothing more to do (the file is
// unchanged, is a further name of an unchanged inode, or a directory is in
// the way), and existing when a different regular file is there, to be
// checked or replaced (same is then set when only its contents can tell).
func (a *applier) inPlaceRegular(dfd int, e *wim.Entry, found *fileCheck) (done, existing, verify bool) {
	var st unix.Stat_t
	switch {
	case found != nil && !found.found:
		return false, false, false
	case found != nil:
		st = found.stat()
	case fstatat(dfd, e.Name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil:
		return false, false, false
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if a.mayDelete(a.path) && a.removableWhole(dfd, e.Name, "/"+strings.Join(a.path, "/")) {
			return false, true, false // written beside, then swapped in (commitTemp)
		}
		if err := a.clearDirInWay(dfd, e.Name, a.path); err != nil { // what may go goes; a file only if all did
			a.warn(true, err)
			return true, false, false
		}
		return false, false, false
	case unix.S_IFREG:
	case unix.S_IFLNK:
		if a.ntfs != nil && a.sameInterix(dfd, e, a.path) { // as ntfs-3g shows an Interix link
			a.files.Add(1)
			a.unchanged.Add(1)
			return true, false, false
		}
		return false, false, false
	default:
		return false, false, false
	}
	if g := a.links[e.LinkID]; e.LinkID != 0 && g != nil && g.hash == e.Data.Hash {
		if g.ino == st.Ino && g.dev == st.Dev {
			a.files.Add(1)
			a.unchanged.Add(1)
			return true, false, false
		}
		return false, false, false // hardlink replaces it
	}
	if found != nil && uint64(st.Nlink) > a.imageNames(e) {
		// Looked at ahead of the walk: --delete may have removed
		// further names since.
		var now unix.Stat_t
		if fstatat(dfd, e.Name, &now, unix.AT_SYMLINK_NOFOLLOW) == nil && now.Ino == st.Ino && now.Dev == st.Dev {
			st.Nlink = now.Nlink
		}
	}
	if a.linkCount(&st) > a.imageNames(e) {
		// Names the image lacks share the inode, perhaps outside the
		// target: a new file replaces it, which leaves them alone.
		return false, true, false
	}
	if found != nil && found.same || found == nil && a.sameFile(&a.walkX, dfd, e, &st, a.path) {
		a.files.Add(1)
		a.unchanged.Add(1)
		a.addLinkGroup(e, &st)
		return true, false, false
	}
	// Setting the metadata of a file with further names would set theirs:
	// only a file with one name (a DOS name apart) is checked and kept.
	return false, true, st.Size == e.Data.Size && st.Size > 0 && a.oneName(e, &st)
}

// linkCount returns the names the inode of st has once the deletions made
// so far are done: a dry run, which makes none, subtracts those it would
// have made (dryUnlinked), so that it counts what the restore does.
func (a *applier) linkCount(st *unix.Stat_t) uint64 {
	n := uint64(st.Nlink)
	if a.opts.DryRun {
		n -= min(n, a.dryUnlinked[devIno{uint64(st.Dev), st.Ino}])
	}
	return n
}

// oneName reports whether the file e, of stat st, has one name: through
// ntfs-3g, a DOS name apart (see imageNames).
func (a *applier) oneName(e *wim.Entry, st *unix.Stat_t) bool {
	n := a.linkCount(st) // a dry run's, less the names it would have deleted
	return n == 1 || n == 2 && a.ntfs != nil && e.ShortName() != ""
}

// imageNames returns how many names the image being applied gives the
// inode of e: through ntfs-3g, which counts a DOS name apart from its long
// name among the links, its DOS names too.
func (a *applier) imageNames(e *wim.Entry) uint64 {
	dos := a.ntfs != nil
	if e.LinkID == 0 {
		if dos && e.ShortName() != "" {
			return 2
		}
		return 1
	}
	a.linkNamesOnce.Do(func() { a.linkNames = countLinkNames(a.applied, dos) })
	return max(a.linkNames[e.LinkID], 1)
}

// countLinkNames counts the names of each hard-linked inode (LinkID) in
// the trees es, and their DOS names when dos is set.
func countLinkNames(es []*wim.Entry, dos bool) map[uint64]uint64 {
	n := make(map[uint64]uint64)
	eachEntry(es, func(e *wim.Entry) {
		if e.LinkID != 0 && !e.IsDir() {
			n[e.LinkID]++
			if dos && e.ShortName() != "" {
				n[e.LinkID]++
			}
		}
	})
	return n
}

// eachEntry calls fn with every entry of the trees es, parents first.
func eachEntry(es []*wim.Entry, fn func(e *wim.Entry)) {
	for _, e := range es {
		fn(e)
		eachEntry(e.Children, fn)
	}
}

// sameFile reports whether the existing regular file e.Name in dfd, whose
// stat is st, has e's size, mtime, mode, owner (when applied) and xattrs
// (when applied); path names it from the target and x is the calling
// goroutine's scratch space.
func (a *applier) sameFile(x *xattrBufs, dfd int, e *wim.Entry, st *unix.Stat_t, path []string) bool {
	if st.Size != e.Data.Size || !a.sameWriteTime(st, e) {
		return false
	}
	if a.ntfs != nil {
		return a.ntfsSame(dfd, e, path)
	}
	if !a.sameMode(st, a.mode(e, false)) {
		return false
	}
	if !a.unixData || e.Unix == nil {
		return true
	}
	if !a.sameOwner(st, e) {
		return false
	}
	return a.xattrsEqual(x, dfd, e.Name, path, e.Xattrs)
}

// sameOwner reports whether st has e's owner, or owners are not applied
// (not root); e has UNIX data.
func (a *applier) sameOwner(st *unix.Stat_t, e *wim.Entry) bool {
	return !a.isRoot || st.Uid == e.Unix.UID && st.Gid == e.Unix.GID
}

// xattrBufs is the scratch space of xattr comparisons on one goroutine.
type xattrBufs struct{ name, key, list []byte }

// xattrsEqual reports whether the file name in dfd (not followed; path
// names it from the target) has exactly the xattrs want. It reads them by
// name in dfd (listxattrat and getxattrat, Linux 6.13) when the kernel has
// those calls, else through a path, which costs a lookup of every
// component (of /proc/self/fd when mounted) per call.
func (a *applier) xattrsEqual(x *xattrBufs, dfd int, name string, path []string, want []wim.Xattr) bool {
	x.name = append(append(x.name[:0], name...), 0)
	t := xattrTarget{fd: -1, dfd: dfd, name: x.name}
	if a.noXattrAt.Load() {
		t = xattrTarget{fd: -1, dfd: -1, name: append([]byte(a.xattrPath(dfd, name, path)), 0)}
	}
	same, err := x.match(t, want)
	if errors.Is(err, unix.ENOSYS) && t.dfd >= 0 { // a kernel before 6.13: paths from now on
		a.noXattrAt.Store(true)
		return a.xattrsEqual(x, dfd, name, path, want)
	}
	return same
}

// match reports whether the file t names has exactly the xattrs want, and
// the error of listing them.
func (x *xattrBufs) match(t xattrTarget, want []wim.Xattr) (bool, error) {
	n, err := x.listNames(t)
	if err != nil {
		return len(want) == 0 && xattrUnsupported(err), err
	}
	names := x.list[:n]
	if bytes.Count(names, []byte{0}) != len(want) {
		return false, nil
	}
	for _, w := range want {
		x.key = append(append(x.key[:0], w.Name...), 0)
		if !hasName(names, x.key) {
			return false, nil
		}
		v := make([]byte, len(w.Value)+1)
		m, err := t.get(x.key, v)
		if err != nil || m != len(w.Value) || !bytes.Equal(v[:m], w.Value) {
			return false, nil
		}
	}
	return true, nil
}

// listNames lists the xattr names of t into x.list, growing it as needed,
// and returns their length.
func (x *xattrBufs) listNames(t xattrTarget) (int, error) {
	if x.list == nil {
		x.list = make([]byte, 4096)
	}
	for {
		n, err := t.list(x.list)
		switch {
		case errors.Is(err, unix.ERANGE):
			x.list = make([]byte, 2*len(x.list))
		case !errors.Is(err, unix.EINTR):
			return n, err
		}
	}
}

// openExistingDir opens the directory name in dfd, not following a
// symlink, when the apply is in place and it is there (existed); it
// returns -1 otherwise, and makeDir takes over. A rollback finds most
// directories in place: opening one first spares a failing mkdir and a
// stat. A directory of the image (not a passage) that the apply may not
// read is opened to its owner first (openOwnDir); widened then holds the
// mode it had, for unwiden, until finishDir sets the image's.
func (a *applier) openExistingDir(dfd int, name string, e *wim.Entry) (fd int, existed bool) {
	if !a.inPlace() {
		return -1, false
	}
	if a.opts.Passages[e] {
		fd, err := openDir(dfd, name, true)
		return fd, err == nil
	}
	fd, found, changed, err := a.openOwnDir(dfd, name)
	if err != nil {
		return -1, false
	}
	if changed {
		a.rememberMode(fd, found)
	}
	a.noteMountRoot(fd, e)
	return fd, true
}

// noteMountRoot records the directory e, found in place as fd, when it is
// the root of a mount other than the target's: a file system mounted in
// the target, or a directory bind-mounted there, perhaps from outside it.
// Its metadata is that file system's, not the tree's, and stays as it is
// (see passage), as what it holds stays at --delete (guard).
func (a *applier) noteMountRoot(fd int, e *wim.Entry) {
	if !a.mountsBelow || a.opts.Passages[e] {
		return
	}
	m, _, err := mountOf(fd)
	if err != nil || sameMount(m, a.guard.mount) {
		return
	}
	if a.mountRoots == nil {
		a.mountRoots = make(map[*wim.Entry]bool)
		a.boundDirs = boundDirs()
	}
	a.mountRoots[e] = true
	if a.boundDirs[m.mnt] {
		if a.boundRoots == nil {
			a.boundRoots = make(map[*wim.Entry]bool)
		}
		a.boundRoots[e] = true
	}
}

// intoMount reports, having warned and counted it skipped, whether the
// directory e, found in place, is a directory bind-mounted there (from
// elsewhere, perhaps outside the target) and the image has entries in it:
// the restore writes nothing there, as it deletes nothing there (guard).
// A file system mounted whole (a /boot partition, which a snapshot with
// --cross-mounts holds) is written into; one the image has empty, as a
// snapshot on one file system records it, is entered as any directory.
func (a *applier) intoMount(e *wim.Entry) bool {
	if !a.boundRoots[e] || len(e.Children) == 0 {
		return false
	}
	a.warn(true, errMountNotWritten)
	return true
}

// passage reports whether the directory e, when found in place, keeps its
// own metadata: a passage to what a filter selected (ApplyOptions.Passages),
// or the root of another mount (noteMountRoot).
func (a *applier) passage(e *wim.Entry) bool { return a.opts.Passages[e] || a.mountRoots[e] }

// openOwnDir opens the directory name in dfd, not following a symlink.
// When the mode of the directory refuses the apply (000, say) and the
// apply runs unprivileged as its owner, it first gives it u+rwx, so that
// a rollback can read, replace and delete what it holds, and returns the
// mode it found (changed); the caller sets a mode afterwards, or removes
// the directory. Neither chmod follows a symlink swapped in meanwhile
// (chmodNoFollow), nor does the open after it.
func (a *applier) openOwnDir(dfd int, name string) (fd int, found uint32, changed bool, err error) {
	fd, err = openDir(dfd, name, true)
	mode, own := a.closedOwnDir(dfd, name, err)
	if !own || chmodNoFollow(dfd, name, mode|0o700) != nil {
		return fd, 0, false, err
	}
	if fd, err = openDir(dfd, name, true); err != nil {
		_ = chmodNoFollow(dfd, name, mode)
		return fd, 0, false, err
	}
	return fd, mode, true, nil
}

// closedOwnDir reports whether err, the error of opening the directory
// name in dfd, is one that openOwnDir gets past: permission denied to an
// unprivileged apply that runs as the directory's owner. It returns the
// directory's mode then.
func (a *applier) closedOwnDir(dfd int, name string, err error) (mode uint32, own bool) {
	var st unix.Stat_t
	if !errors.Is(err, unix.EACCES) || a.isRoot || fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil ||
		st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != unix.Geteuid() {
		return 0, false
	}
	return st.Mode & 0o7777, true
}

// sameDirMeta reports whether the existing directory fd has e's mode,
// mtime, owner (when applied) and exactly its xattrs (when applied), so
// that a rollback need not set them again. Its access time is left out, as
// for files kept in place: reading a directory whose metadata changed
// since it was last read sets it (relatime), so it would never match.
func (a *applier) sameDirMeta(fd int, e *wim.Entry) bool {
	var st unix.Stat_t
	if a.ntfs != nil || fstat(fd, &st) != nil || !a.sameMode(&st, a.mode(e, true)) {
		return false
	}
	if !a.sameWriteTime(&st, e) {
		return false
	}
	if !a.unixData || e.Unix == nil {
		return true
	}
	if !a.sameOwner(&st, e) {
		return false
	}
	same, _ := a.walkX.match(xattrTarget{fd: fd, dfd: -1}, e.Xattrs)
	return same
}

// dropOtherXattrs removes from the file t names (an open descriptor, or a
// NUL-terminated path not followed), kept in place, the xattrs that e
// lacks: setting e's leaves the others. With KeepXattrs it does nothing.
func (a *applier) dropOtherXattrs(t xattrTarget, e *wim.Entry) error {
	if !a.unixData || a.ntfs != nil || e.Unix == nil || a.opts.KeepXattrs {
		return nil
	}
	var x xattrBufs
	n, err := x.listNames(t)
	if err != nil {
		if xattrUnsupported(err) {
			return nil
		}
		return fmt.Errorf("listing xattrs: %w", err)
	}
	var errs []error
	for _, name := range strings.Split(string(x.list[:n]), "\x00") {
		if name == "" || xattrOf(e, name) {
			continue
		}
		if err := t.remove(name); err != nil && !errors.Is(err, unix.ENODATA) {
			errs = append(errs, fmt.Errorf("removing xattr %q: %w", name, err))
		}
	}
	return joinErrs(errs...)
}

// hasName reports whether the NUL-terminated name key is one of the
// NUL-terminated names in list.
func hasName(list, key []byte) bool {
	for len(list) > 0 {
		i := bytes.IndexByte(list, 0) + 1
		if i == 0 {
			return false
		}
		if bytes.Equal(list[:i], key) {
			return true
		}
		list = list[i:]
	}
	return false
}

// addLinkGroup records the first applied name of a hard-linked inode.
func (a *applier) addLinkGroup(e *wim.Entry, st *unix.Stat_t) {
	if e.LinkID == 0 || a.links[e.LinkID] != nil {
		return
	}
	if a.links == nil {
		a.links = make(map[uint64]*linkGroup)
	}
	a.links[e.LinkID] = &linkGroup{at: a.here(), hash: e.Data.Hash, ino: st.Ino, dev: st.Dev}
}

// commitTemp renames the finished temporary file over its final name, or
// swaps it in for a directory there (swapDir).
func (a *applier) commitTemp(j fileJob) error {
	err := unix.Renameat(j.dir, j.tmp, j.dir, j.e.Name)
	if j.aside != "" && errors.Is(err, unix.EISDIR) {
		err = a.swapDir(j)
	}
	if err != nil {
		_ = unix.Unlinkat(j.dir, j.tmp, 0)
		return fmt.Errorf("rename into place: %w", err)
	}
	return nil
}

// walkBuffer returns the buffer for files read or written on the walking
// goroutine, made on first use.
func (a *applier) walkBuffer() []byte {
	if a.walkBuf == nil {
		a.walkBuf = make([]byte, 1<<20)
	}
	return a.walkBuf
}

// openSame opens the existing file e.Name in dfd for reading when it holds
// e's contents, read through buf, and returns it (the caller closes it);
// otherwise it returns -1.
func openSame(dfd int, e *wim.Entry, buf []byte) int {
	fd, err := unix.Openat(dfd, e.Name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1
	}
	if !sameContents(fd, e.Data.Hash, e.Data.Size, buf) {
		closeFD(fd)
		return -1
	}
	return fd
}

// sameContents reports whether the open file fd holds exactly size bytes
// whose SHA-1 is h.
func sameContents(fd int, h wim.Hash, size int64, buf []byte) bool {
	s := sha1.New()
	var off int64
	for {
		n, err := unix.Pread(fd, buf, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false
		}
		if n == 0 {
			break
		}
		s.Write(buf[:n])
		off += int64(n)
		if off > size {
			return false
		}
	}
	var got wim.Hash
	s.Sum(got[:0])
	return off == size && got == h
}

// replaceFile writes a file that exists with other contents or metadata:
// when only its times or metadata may differ (j.verify), its contents are
// hashed first and, if they match, only its metadata is set; otherwise a
// temporary file is written and renamed over it, unless the directory
// refuses that rename (replaceDenied: another user's file in a sticky
// directory, say), which is warned about before anything is written. It reports whether the
// name now holds the image's file, and only then counts it among the
// files applied; if not, it holds the old one, warned about and skipped.
func (a *applier) replaceFile(j fileJob, buf []byte) bool {
	defer closeFD(j.dir)
	if j.verify {
		if fd := openSame(j.dir, j.e, buf); fd >= 0 {
			errs := a.metaErrors(fd, j.e, false)
			if err := a.dropOtherXattrs(xattrTarget{fd: fd, dfd: -1}, j.e); err != nil {
				errs = append(errs, err)
			}
			if len(errs) > 0 {
				a.warnMeta(j.at.comps(), errs)
			} else {
				a.fixed.Add(1)
			}
			a.files.Add(1)
			a.unchanged.Add(1)
			closeFD(fd)
			return true
		}
	}
	if err := a.replaceDenied(j.dir, j.e.Name); err != nil { // the rename would fail: nothing written
		a.warnPath(j.at.comps(), true, fmt.Errorf("replace: %w", err))
		return false
	}
	if done, ok := a.linkAside(j); done {
		return ok
	}
	fd, err := unix.Openat(j.dir, j.tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		a.warnPath(j.at.comps(), true, fmt.Errorf("create: %w", err))
		return false
	}
	j.fd, j.replacing = fd, true
	if j.old = a.openOld(j); j.old != nil {
		defer closeFD(j.old.fd)
	}
	n, err := a.fillFile(j, buf)
	if cerr := closeFile(fd); err == nil && cerr != nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	if err == nil {
		if a.ntfs != nil {
			a.warnLargeStreams(j)
		}
		err = a.commitTemp(j)
		if err == nil && a.ntfs != nil {
			if nerr := a.ntfsAfterRename(j.dir, j.e); nerr != nil {
				a.warnPath(j.at.comps(), false, nerr)
			}
		}
		if err == nil && a.interixLike(j.e) {
			var st unix.Stat_t
			_ = fstatat(j.dir, j.e.Name, &st, unix.AT_SYMLINK_NOFOLLOW) // see interixLike
		}
	} else {
		_ = unix.Unlinkat(j.dir, j.tmp, 0)
	}
	if err != nil {
		a.fileError(j, err)
		return false
	}
	a.files.Add(1)
	a.bytes.Add(n)
	return true
}

// linkAside makes the name of j, where a directory is in the way (j.aside,
// run on the walk's goroutine) and that the image gives a file applied
// already under another name, a further name of that file: a link made
// under the temporary name and swapped in as a copy would be (commitTemp).
// It wrote a copy, which the next rollback linked. done says that it did
// the job (ok: the name is in place); when not, the caller writes a copy.
func (a *applier) linkAside(j fileJob) (done, ok bool) {
	if j.aside == "" || j.e.LinkID == 0 {
		return false, false // maybe on a worker, which may not read a.links
	}
	g := a.links[j.e.LinkID]
	if g == nil || g.hash != j.e.Data.Hash || a.unfilled.hasFailed(g.at) {
		return false, false
	}
	ofd, err := a.openPath(g.at.dir.comps())
	if err != nil {
		return false, false
	}
	err = unix.Linkat(ofd, g.at.name, j.dir, j.tmp, 0)
	a.closeOpened(ofd)
	if err != nil {
		return false, false
	}
	if err := a.commitTemp(j); err != nil {
		a.fileError(j, err)
		return true, false
	}
	if !a.unfilled.link(g.at, j.at) {
		// Its contents failed meanwhile: a copy is written, whose failure
		// is reported, as linkName leaves it.
		_ = unix.Unlinkat(j.dir, j.e.Name, 0)
		return false, false
	}
	if a.ntfs != nil {
		a.ntfsLinked = append(a.ntfsLinked, ntfsLinked{at: j.at, e: j.e})
	}
	a.files.Add(1)
	return true, true
}

// mayDelete reports whether the entry at path (its components from the
// target) may be deleted.
func (a *applier) mayDelete(path []string) bool {
	if !a.opts.Delete {
		return false
	}
	return a.opts.Deletable == nil || a.opts.Deletable("/"+strings.Join(path, "/"))
}

// mayDeleteIn returns nil when the restore may delete (or rename) name in
// the directory dfd, and otherwise the error unlink would give: it may as
// root, as the directory's owner (removeDir opens a directory to itself
// first, the walk one of the image), or with write and search permission
// on it (else EACCES), and in a sticky directory (such as /tmp) only if it
// also owns name (else EPERM); never on a file system mounted read-only
// (EROFS).
func (a *applier) mayDeleteIn(dfd int, name string) error {
	if readOnlyFS(dfd) {
		return unix.EROFS
	}
	var st unix.Stat_t
	if a.isRoot || fstat(dfd, &st) == nil && int(st.Uid) == unix.Geteuid() {
		return nil
	}
	if unix.Faccessat(dfd, ".", unix.W_OK|unix.X_OK, unix.AT_EACCESS) != nil {
		return unix.EACCES
	}
	var nst unix.Stat_t
	if st.Mode&unix.S_ISVTX != 0 && fstatat(dfd, name, &nst, unix.AT_SYMLINK_NOFOLLOW) == nil &&
		int(nst.Uid) != unix.Geteuid() {
		return unix.EPERM
	}
	return nil
}

// errDirKept is clearDirInWay's error for a directory in the way of an
// entry that it could not delete whole: what may go is gone, the rest and
// the directory stay, and the entry is skipped.
var errDirKept = errors.New("a directory is in the way and could not be deleted whole")

// clearDirInWay deletes (with DryRun, counts) the directory name in dfd,
// at path, where the image has a file, a symlink or a special file, and
// returns nil once nothing is in the way, or nothing was. A directory the
// restore may not delete gives errDirInWay; one it deleted only in part,
// errDirKept with why. Either way nothing else warns about it: the caller
// warns once, the entry skipped, so that a dry run and the restore count
// it alike.
func (a *applier) clearDirInWay(dfd int, name string, path []string) error {
	if !isDirAt(dfd, name) {
		return nil
	}
	if !a.mayDelete(path) {
		return errDirInWay
	}
	kept := a.removeCounted(dfd, name, path)
	switch {
	case kept == nil:
		return nil
	case keptOnPurpose(kept):
		return fmt.Errorf("%w: %w", errDirKept, kept)
	}
	return fmt.Errorf("%w: delete: %w", errDirKept, kept)
}

// deleteExtra removes the names in dfd that the directory e lacks, and
// leftover temporary files of earlier runs. names, when not nil, holds the
// names of e's entries (the walk's duplicate check made it).
func (a *applier) deleteExtra(dfd int, e *wim.Entry, names map[string]int) {
	if a.dirents == nil {
		a.dirents = make([]byte, 32<<10)
	}
	want := newNameSet(e.Children, names)
	if a.foldCase {
		want = foldedNameSet(e.Children)
	}
	var extra []string // the names e lacks
	err := eachDirName(dfd, a.dirents, func(name []byte) {
		if !want.has(name) {
			extra = append(extra, string(name))
		}
	})
	if err != nil {
		a.warn(false, fmt.Errorf("listing for --delete: %w", err))
	}
	depth := len(a.path)
	guarded := false // checked: dfd is not left alone
	for _, n := range extra {
		if a.ctx.Err() != nil {
			break // interrupted: what is left stays (Apply returns the error)
		}
		if a.ownTemp(n) {
			continue
		}
		a.path = append(a.path[:depth], n)
		if isTempName(n) && !a.mayDropLeftover(a.path) || !isTempName(n) && !a.mayDelete(a.path) {
			continue
		}
		if !guarded {
			if err := a.guard.leaveAlone(dfd); err != nil {
				a.path = a.path[:depth]
				a.warn(false, err)
				return
			}
			guarded = true
		}
		if isTempName(n) && !isDirAt(dfd, n) {
			a.dropLeftover(dfd, n)
			continue
		}
		a.removeAll(dfd, n, a.path)
	}
	a.path = a.path[:depth]
}

// mayDropLeftover reports whether a leftover temporary file at path (from
// the image root) may be removed: not one that Deletable refuses, such as
// an excluded path, which the restore leaves as it is whatever its name.
func (a *applier) mayDropLeftover(path []string) bool {
	return a.opts.Deletable == nil || a.opts.Deletable("/"+strings.Join(path, "/"))
}

// dropLeftover removes name in dfd, a file an earlier run was writing when
// it was killed: not the user's, so not counted as deleted (as on
// Windows), and not one a dry run reports. An old directory a killed run
// had renamed aside is the user's, and goes through removeAll, counted.
func (a *applier) dropLeftover(dfd int, name string) {
	if !a.opts.DryRun {
		_ = unix.Unlinkat(dfd, name, 0) // one that stays, the next run removes
	}
}

// nameSet tells whether a name is one of a directory's entries: a map for
// large directories, a look through the entries for small ones.
type nameSet struct {
	entries []*wim.Entry
	names   map[string]int
	fold    bool // names holds upper case: any case matches
}

// bigDir is the most entries nameSet looks through.
const bigDir = 16

// newNameSet returns the set of the entries' names; names, when not nil,
// is a map of them already made.
func newNameSet(entries []*wim.Entry, names map[string]int) nameSet {
	s := nameSet{entries: entries, names: names}
	if names == nil && len(entries) > bigDir {
		s.names = make(map[string]int, len(entries))
		for i, c := range entries {
			s.names[c.Name] = i
		}
	}
	return s
}

// foldedNameSet is the set of the entries' names on a target that does
// not tell case apart (foldsCase): a name there matches whatever its case.
func foldedNameSet(entries []*wim.Entry) nameSet {
	s := nameSet{names: make(map[string]int, len(entries)), fold: true}
	for i, c := range entries {
		s.names[strings.ToUpper(c.Name)] = i
	}
	return s
}

func (s nameSet) has(name []byte) bool {
	if s.fold {
		_, ok := s.names[strings.ToUpper(string(name))]
		return ok
	}
	if s.names != nil {
		_, ok := s.names[string(name)]
		return ok
	}
	for _, c := range s.entries {
		if c.Name == string(name) {
			return true
		}
	}
	return false
}

// errHoldsExcluded tells that a directory was kept because it holds
// paths that the filter keeps from deletion.
var errHoldsExcluded = errors.New("kept: it holds paths excluded from the restore")

// removeAll deletes name in dfd, the entry at path, and, for a directory,
// everything below it that may be deleted (see ApplyOptions.Deletable),
// never following a symlink; it warns about what stays. With DryRun it
// counts and warns alike, and deletes nothing.
func (a *applier) removeAll(dfd int, name string, path []string) {
	switch kept := a.removeCounted(dfd, name, path); {
	case kept == nil, errors.Is(kept, errLeftAlone): // warned about
	case a.ctx.Err() != nil: // interrupted, which Apply reports
	case keptOnPurpose(kept):
		a.warnPath(path, false, kept) // as asked, or warned about below
	default: // explained by remove
		a.warnPath(path, true, fmt.Errorf("delete: %w", kept)) // the target is not the snapshot: partial
	}
}

// removeCounted is removeAll without its warnings: it counts what it
// deletes (with DryRun, what it would) and returns why name stays, nil
// when it is gone. errLeftAlone is warned about already.
func (a *applier) removeCounted(dfd int, name string, path []string) error {
	if a.opts.DryRun {
		n, kept := a.dryRemove(dfd, name, "/"+strings.Join(path, "/"))
		a.deleted.Add(n)
		a.touched = a.touched || kept == nil
		return kept
	}
	err := a.remove(dfd, name, "/"+strings.Join(path, "/"))
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	a.deleted.Add(1)
	return nil
}

// splitPath returns the components of a path from the target ("/a/b").
func splitPath(path string) []string { return strings.Split(strings.TrimPrefix(path, "/"), "/") }

// remove deletes name in dfd, whose path from the target is path, and for
// a directory what it holds (removeDir). A permission error says why
// (explain), at whatever depth it was met: a directory's error names what
// in it stays.
func (a *applier) remove(dfd int, name, path string) error {
	if mountedFile(dfd, name) { // unlink would fail (EBUSY); the dry run says so too
		a.warnPath(splitPath(path), false, errMountPoint)
		return errLeftAlone
	}
	err := unix.Unlinkat(dfd, name, 0)
	if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EPERM) && isDirAt(dfd, name) {
		return a.removeDir(dfd, name, path)
	}
	return a.explain(dfd, name, err)
}

// isDirAt reports whether name in dfd is a directory (not followed).
func isDirAt(dfd int, name string) bool {
	var st unix.Stat_t
	return fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// removeDir deletes the directory name in dfd, whose path from the target
// is path, with what it holds; it keeps what the filter keeps from
// deletion, and then the directories holding it (errHoldsExcluded).
func (a *applier) removeDir(dfd int, name, path string) error {
	fd, found, changed, err := a.openOwnDir(dfd, name)
	if err != nil {
		return err
	}
	if changed { // when it stays, it keeps the mode it had
		defer func() { _ = chmodNoFollow(dfd, name, found) }()
	}
	if err := a.guard.leaveAlone(fd); err != nil {
		closeFD(fd)
		a.warnPath(splitPath(path), false, err)
		return errLeftAlone
	}
	a.openToSelf(fd) // it goes: no mode to put back
	names, filtered, err := a.deletableNames(fd, path)
	var kept error // why the directory stays, if it does
	if filtered {
		kept = errHoldsExcluded
	}
	for _, n := range names {
		if cerr := a.ctx.Err(); cerr != nil {
			closeFD(fd)
			return cerr // interrupted: the directory stays with what is left
		}
		p := path + "/" + n
		if e := a.remove(fd, n, p); e != nil && !errors.Is(e, unix.ENOENT) {
			switch {
			case errors.Is(e, errLeftAlone):
				if kept == nil {
					kept = errHoldsLeftAlone
				}
				continue
			case errors.Is(e, errHoldsExcluded), errors.Is(e, errHoldsLeftAlone):
				if kept == nil {
					kept = e
				}
				continue
			case e != nil:
				err = errors.Join(err, fmt.Errorf("%s: %w", p, e))
				continue
			}
		}
		a.deleted.Add(1)
	}
	closeFD(fd)
	switch {
	case err != nil:
		return err
	case kept != nil:
		return kept
	}
	return a.explain(dfd, name, unix.Unlinkat(dfd, name, unix.AT_REMOVEDIR))
}

// deletableNames lists the names in the directory fd, whose path from the
// target is path, that the filter lets a restore delete; kept says that
// it keeps some from deletion. removeDir and dryRemove walk the same.
func (a *applier) deletableNames(fd int, path string) (names []string, kept bool, err error) {
	all, err := readDirNames(fd, make([]byte, 32<<10))
	if a.opts.Deletable != nil {
		path = a.imagePath(path)
	}
	for _, n := range all {
		if a.opts.Deletable != nil && !a.opts.Deletable(path+"/"+n) {
			kept = true
			continue
		}
		names = append(names, n)
	}
	return names, kept, err
}

// renamedAside notes that the entry at image path was renamed to at (a
// swap's temporary name) to be deleted, until the function it returns is
// called: the filter is asked of the image's paths of what it holds.
func (a *applier) renamedAside(at, image string) (done func()) {
	a.asidesMu.Lock()
	defer a.asidesMu.Unlock()
	if a.asides == nil {
		a.asides = map[string]string{}
	}
	a.asides[at] = image
	return func() {
		a.asidesMu.Lock()
		defer a.asidesMu.Unlock()
		delete(a.asides, at)
	}
}

// imagePath returns the path in the image of the entry at path: path,
// but below an entry renamed aside (renamedAside).
func (a *applier) imagePath(path string) string {
	a.asidesMu.Lock()
	defer a.asidesMu.Unlock()
	for at, image := range a.asides {
		if path == at || strings.HasPrefix(path, at+"/") {
			return image + path[len(at):]
		}
	}
	return path
}

// replaceLater queues the replacement of the existing file e. A
// hard-linked file is replaced at once, so that its further names link to
// the new inode; if that fails, they are left to be made or replaced on
// their own rather than linked to the old file. So is a file that takes
// the place of a directory (swapDir), which is deleted by the walk's
// goroutine as other deletions are. So is a file whose inode has further
// names (sharesInode): once it is replaced they have one name fewer, which
// decides whether the walk keeps the next of them (inPlaceRegular), the
// same way at every run and in a dry run (planRegular).
func (a *applier) replaceLater(dfd int, e *wim.Entry, verify bool) {
	dir, err := unix.FcntlInt(uintptr(dfd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		a.warn(true, fmt.Errorf("dup: %w", err))
		return
	}
	a.sweepTemps(dfd)
	j := fileJob{fd: -1, e: e, at: a.here(), dir: dir, tmp: a.tempName(), verify: verify}
	a.retimeLater()
	if a.opts.InPlace && a.mayDelete(a.path) && isDirAt(dfd, e.Name) { // inPlaceRegular found it removable whole
		j.aside = a.tempName()
	}
	if e.LinkID != 0 || j.aside != "" || sharesInode(dfd, e.Name) {
		var st unix.Stat_t
		if a.replaceFile(j, a.walkBuffer()) && fstatat(dfd, e.Name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			a.addLinkGroup(e, &st)
		}
		return
	}
	select {
	case a.jobs <- j:
	case <-a.ctx.Done():
		closeFD(dir)
	}
}

// sharesInode reports whether name in dfd is a regular file with further
// names.
func sharesInode(dfd int, name string) bool {
	var st unix.Stat_t
	return fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Nlink > 1
}

// sameNode reports whether name in dfd is already the symlink or special
// file e would create (same target, or same type and device number).
func (a *applier) sameNode(dfd int, e *wim.Entry, target string, st *unix.Stat_t) bool {
	if fstatat(dfd, e.Name, st, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return false
	}
	if e.IsReparse() {
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			return false
		}
		have, ok := readLinkAt(dfd, e.Name, int64(len(target)))
		return ok && have == target && st.Nlink == 1 // keepNode would set another name's metadata
	}
	return st.Mode&unix.S_IFMT == a.specialType(e) && st.Rdev == uint64(e.Unix.Rdev) && a.sameLinks(dfd, e, st)
}

// sameLinks reports whether the special file e found in place in dfd (the
// walk's: a.path names it), of stat st, may be kept as to its names: a
// further name of an inode the image hard-links must be the inode kept or
// made for its first name; any other inode must have one name, or no more
// than the image gives e's and the image's metadata already, as keepNode
// sets metadata by name, which would set that of names perhaps outside the
// target (as for regular files, inPlaceRegular).
func (a *applier) sameLinks(dfd int, e *wim.Entry, st *unix.Stat_t) bool {
	if g := a.links[e.LinkID]; e.LinkID != 0 && g != nil {
		return g.ino == st.Ino && g.dev == st.Dev
	}
	if st.Nlink == 1 {
		return true
	}
	if uint64(st.Nlink) > a.imageNames(e) {
		return false
	}
	same, sameXattrs := a.nodeMetaSame(&a.walkX, dfd, e, a.path, st)
	return same && sameXattrs
}

// readLinkAt returns the target of the symlink name in dfd when it is at
// most size bytes long.
func readLinkAt(dfd int, name string, size int64) (string, bool) {
	buf := make([]byte, size+1)
	n, err := unix.Readlinkat(dfd, name, buf)
	if err != nil || n == len(buf) {
		return "", false
	}
	return string(buf[:n]), true
}

// keepNode finishes a symlink or special file e that sameNode found in
// place (stat st, path naming it; x the goroutine's scratch space): its
// metadata is set again only when its mtime, mode (not a symlink's), owner
// or xattrs (when applied) differ, and it counts as fixed when that
// succeeded.
func (a *applier) keepNode(x *xattrBufs, dfd int, e *wim.Entry, path []string, st *unix.Stat_t) {
	same, sameXattrs := a.nodeMetaSame(x, dfd, e, path, st)
	if (!same || !sameXattrs) && a.setMetaAt(dfd, e, path) {
		a.fixed.Add(1)
	}
	if !sameXattrs {
		// Rare, so through a path: no descriptor opens a symlink.
		p := append([]byte(a.xattrPath(dfd, e.Name, path)), 0)
		if err := a.dropOtherXattrs(xattrTarget{fd: -1, dfd: -1, name: p}, e); err != nil {
			a.warnPath(path, false, err)
		}
	}
}

// nodeMetaSame reports whether the symlink or special file e.Name in dfd,
// whose stat is st, has e's mtime, mode and owner (same) and xattrs
// (sameXattrs), as far as they are applied.
func (a *applier) nodeMetaSame(x *xattrBufs, dfd int, e *wim.Entry, path []string, st *unix.Stat_t) (same, sameXattrs bool) {
	same = a.sameWriteTime(st, e) && (e.IsReparse() || a.sameMode(st, a.mode(e, false)))
	sameXattrs = true
	if a.unixData && e.Unix != nil {
		same = same && a.sameOwner(st, e)
		sameXattrs = a.xattrsEqual(x, dfd, e.Name, path, e.Xattrs)
	}
	return same, sameXattrs
}

// ownTemp reports whether name is one of this run's temporary files.
func (a *applier) ownTemp(name string) bool {
	return isTempName(name) && strings.Contains(name, a.token)
}

// sweepTemps removes, the first time a file is replaced in the directory
// dfd (a.curDir's) outside in-place mode, the temporary files that other
// runs left there: an extract killed while it wrote a replacement leaves
// it under its temporary name, which otherwise only an in-place apply's
// listing of the directory would find.
func (a *applier) sweepTemps(dfd int) {
	if a.opts.InPlace || a.swept[a.curDir] {
		return
	}
	if a.swept == nil {
		a.swept = make(map[*wim.Entry]bool)
	}
	a.swept[a.curDir] = true
	fd, err := unix.Openat(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return // nothing is lost: the leftovers stay
	}
	defer closeFD(fd)
	held := a.applied // the names written in the directory: the tops, in the target
	if a.curDir != nil {
		held = a.curDir.Children
	}
	var stale []string
	_ = eachDirName(fd, a.walkBuffer(), func(name []byte) {
		if n := string(name); isTempName(n) && !a.ownTemp(n) && !holdsName(held, n) {
			stale = append(stale, n)
		}
	})
	for _, n := range stale {
		_ = unix.Unlinkat(fd, n, 0) // a leftover another run removed meanwhile is gone either way
	}
}

// holdsName reports whether one of entries is called name: a file of the
// image named like a leftover is the image's, not a leftover.
func holdsName(entries []*wim.Entry, name string) bool {
	for _, e := range entries {
		if e.Name == name {
			return true
		}
	}
	return false
}

// renamedDir is a directory in which workers rename files, or deferred
// symlinks are made, after the walk has set its times.
type renamedDir struct {
	dir *dirPath // nil: the target
	e   *wim.Entry
}

// retimeLater records, once, that the directory of the entry at a.path
// (a.curDir) changes after the walk has set its times, for retime.
func (a *applier) retimeLater() {
	if a.curDir == nil || a.renamedSet[a.curDir] {
		return
	}
	a.addRenamed(a.walkDir, a.curDir)
}

// retimeDirLater is retimeLater for the directory d of the walk, the
// current one or one above it.
func (a *applier) retimeDirLater(d *dirPath) {
	if !a.renamedSet[d.e] {
		a.addRenamed(d, d.e)
	}
}

// addRenamed records the directory d, of entry e, in renamed. An
// unprivileged apply could not reach it at retime through a directory
// above whose mode forbids the owner to enter and that finishDir had set
// already (a rollback left a directory of mode 000 in another at 0700):
// those directories wait for retime too (modeLater), which takes the
// deepest first.
func (a *applier) addRenamed(d *dirPath, e *wim.Entry) {
	a.renamed = append(a.renamed, renamedDir{dir: d, e: e})
	if a.renamedSet == nil {
		a.renamedSet = make(map[*wim.Entry]bool)
	}
	a.renamedSet[e] = true
	if a.isRoot || d == nil {
		return
	}
	for p := d.parent; p != nil; p = p.parent {
		if !a.renamedSet[p.e] && !a.passage(p.e) && a.mode(p.e, true)&0o300 != 0o300 {
			a.renamed = append(a.renamed, renamedDir{dir: p, e: p.e})
			a.renamedSet[p.e] = true
		}
	}
}

// retime sets again the times of the directories the workers renamed
// files in or deferred symlinks were made in (either changes a directory's
// mtime), and the metadata of those whose mode waited (modeLater).
func (a *applier) retime() {
	// The deepest first: a directory whose mode waited may forbid entering
	// it, and those below it wait too (addRenamed).
	slices.SortStableFunc(a.renamed, func(x, y renamedDir) int { return cmp.Compare(y.dir.level(), x.dir.level()) })
	for _, d := range a.renamed {
		path := d.dir.comps()
		fd, err := a.openPath(path)
		if err != nil {
			a.retimeUnopened(d.e, path) // else reported when the directory was made
			continue
		}
		a.retimeDir(fd, d.e, path)
		if fd != a.rootFD {
			closeFD(fd)
		}
	}
}

// retimeUnopened is retimeDir for a directory that does not open: one an
// unprivileged apply gave a mode without read permission but with write
// and search permission, which modeLater does not wait for (0300). Its
// times are set through its parent; its mtime was left at the rename's.
func (a *applier) retimeUnopened(e *wim.Entry, path []string) {
	if len(path) == 0 || a.modeLater(e) {
		return
	}
	pfd, err := a.openPath(path[:len(path)-1])
	if err != nil {
		return
	}
	defer a.closeOpened(pfd)
	ts := timespecs(e)
	orig, passage := a.passageTimes[e]
	if passage {
		ts = orig
	}
	name := path[len(path)-1]
	var st unix.Stat_t
	if fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Mtim == ts[1] {
		return
	}
	if err := unix.UtimesNanoAt(pfd, name, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil && !passage && !a.metaWarned[e] {
		a.warnPath(path, false, fmt.Errorf("times: %w", err))
	}
}

// retimeDir is retime for the directory e, open as fd, at path. One whose
// mtime is still the one set, or whose mode waited but whose metadata is
// the image's already, is left alone. It warns about a directory's
// times only when finishDir did not warn about its metadata already
// (metaWarned), one warning per entry, and never about a passage found in
// place, whose times it puts back where it can, as finishDir does.
func (a *applier) retimeDir(fd int, e *wim.Entry, path []string) {
	ts := timespecs(e)
	orig, passage := a.passageTimes[e]
	if passage {
		ts = orig // a passage keeps its own times
	}
	switch {
	case a.modeLater(e):
		if a.sameDirMeta(fd, e) {
			return // a replacement refused, or a file's metadata alone set
		}
		errs := a.metaErrors(fd, e, true)
		if err := a.dropOtherXattrs(xattrTarget{fd: fd, dfd: -1}, e); err != nil {
			errs = append(errs, err)
		}
		a.warnMeta(path, errs)
	case mtimeIs(fd, ts[1]):
		// Nothing changed it since its times were set (a replacement the
		// directory refused, say): setting them again would only fail
		// again where they could not be set.
	default:
		if err := futimens(fd, &ts); err != nil && !passage && !a.metaWarned[e] {
			a.warnPath(path, false, fmt.Errorf("times: %w", err))
		}
	}
}

// sameWriteTime reports whether the entry of stat st has e's last write
// time to the 100 ns the image holds: one whose file system keeps
// nanoseconds has more digits than the image, which applying would drop.
// On a file system that clamps times (clampsTimes), a time it cannot hold
// is the one it clamped it to: every rollback onto ext4 rewrote the files
// of an image dated before 1901. The limits are the probed ones when this
// run probed them already (it wrote such a time), else the known limits
// of such file systems: a probe here made a file in the target at every
// rollback of an unchanged tree of such times (images of zero times are
// of 1601), changing the target's ctime, for the one case the known limits
// tell wrong: a file at exactly 2038-01-19T03:14:07Z, whose image time is
// later, on a file system that holds later times.
func (a *applier) sameWriteTime(st *unix.Stat_t, e *wim.Entry) bool {
	if wim.FiletimeFromUnix(st.Mtim.Sec, st.Mtim.Nsec) == e.LastWriteTime {
		return true
	}
	sec, _ := e.LastWriteTime.Unix()
	if !a.clampsTimes || sec >= minTime32 && sec <= maxTime32 { // every such file system holds it
		return false
	}
	var lo, hi int64
	if a.probed.Load() {
		lo, hi = a.limits()
	}
	return clampedTime(sec, st.Mtim, lo, hi)
}

// limits returns the earliest and latest times the target's file system
// holds (see clampsTimes), probed on the first call (timeLimits); both 0
// when not known (a dry run, which writes nothing, or a failed probe). An
// apply probes only when it sets a time beyond 32 bits (clampNote): the
// probe is a file made and deleted in the target, which changes its ctime.
func (a *applier) limits() (lo, hi int64) {
	a.limitsOnce.Do(func() {
		if a.rootFD >= 0 {
			a.timeLo, a.timeHi = a.timeLimits(a.rootFD)
		}
		a.probed.Store(true)
	})
	return a.timeLo, a.timeHi
}

// clampNote returns the error saying that the target's file system could
// not hold e's times, and what it set them to; nil when it could, when
// its limits are not known, or for a time of 0, which says that none was
// recorded (images made by some tools hold no times).
func (a *applier) clampNote(e *wim.Entry) error {
	if !a.clampsTimes {
		return nil
	}
	var notes []string
	for _, t := range []struct {
		what string
		ft   wim.Filetime
	}{{"last write", e.LastWriteTime}, {"last access", e.LastAccessTime}} {
		sec, _ := t.ft.Unix()
		if t.ft == 0 || sec >= minTime32 && sec <= maxTime32 { // 0: none recorded
			continue
		}
		lo, hi := a.limits()
		if lo == 0 && hi == 0 || sec >= lo && sec <= hi {
			continue
		}
		notes = append(notes, fmt.Sprintf("%s time %s set to %s", t.what, t.ft.Time().UTC().Format(time.DateTime),
			time.Unix(min(max(sec, lo), hi), 0).UTC().Format(time.DateTime)))
	}
	if notes == nil {
		return nil
	}
	return fmt.Errorf("times out of the range the target's file system holds (%s to %s): %s",
		time.Unix(a.timeLo, 0).UTC().Format(time.DateOnly), time.Unix(a.timeHi, 0).UTC().Format(time.DateOnly), strings.Join(notes, ", "))
}

// The limits of the times file systems hold, in seconds after the UNIX
// epoch, to which the kernel clamps others (with no nanoseconds): 32-bit
// times (ext4 with 128-byte inodes, XFS without bigtime, the low end of
// ext4 and XFS with their wider times) and ext4's 34-bit times.
const (
	minTime32    = -1 << 31
	maxTime32    = 1<<31 - 1
	maxTimeExt4  = 1<<34 - 1 - 1<<31
	maxTimeXFSBT = 16299260424 // XFS bigtime: 2486-07-02 20:20:24 UTC
)

// clampedTime reports whether t is where a file system that holds times
// from lo to hi clamped the time sec to; with lo and hi both 0 (not
// known), one with any of the known limits.
func clampedTime(sec int64, t unix.Timespec, lo, hi int64) bool {
	switch {
	case t.Nsec != 0:
		return false
	case lo != 0 || hi != 0:
		return t.Sec == lo && sec < lo || t.Sec == hi && sec > hi
	}
	switch t.Sec {
	case minTime32:
		return sec < minTime32
	case maxTime32, maxTimeExt4, maxTimeXFSBT:
		return sec > t.Sec
	}
	return false
}

// mtimeIs reports whether the open file fd has the mtime t.
func mtimeIs(fd int, t unix.Timespec) bool {
	var st unix.Stat_t
	return fstat(fd, &st) == nil && st.Mtim == t
}

// foundDir prepares the directory e, found in place as fd, for the walk:
// a passage's times are kept, any other is opened to its owner.
func (a *applier) foundDir(fd int, e *wim.Entry) {
	if a.passage(e) {
		a.keepPassageTimes(fd, e)
		return
	}
	a.widen(fd)
}

// keepPassageTimes records the times of the passage e, found in place as
// fd, for retime to put back after the workers' renames in it.
func (a *applier) keepPassageTimes(fd int, e *wim.Entry) {
	var st unix.Stat_t
	if fstat(fd, &st) != nil {
		return
	}
	if a.passageTimes == nil {
		a.passageTimes = make(map[*wim.Entry][2]unix.Timespec)
	}
	a.passageTimes[e] = [2]unix.Timespec{st.Atim, st.Mtim}
}

// openToSelf gives the owner write and search permission on the existing
// directory fd when the apply runs as its (unprivileged) owner and it
// lacks them, so that a rollback can replace and delete what it holds
// (root needs no permission); the image's mode is set when done.
func (a *applier) openToSelf(fd int) (found uint32, changed bool) {
	var st unix.Stat_t
	if a.isRoot || fstat(fd, &st) != nil || int(st.Uid) != unix.Geteuid() || st.Mode&0o300 == 0o300 {
		return 0, false
	}
	return st.Mode & 0o7777, unix.Fchmod(fd, st.Mode&0o7777|0o300) == nil
}

// widen is openToSelf for a directory the walk goes on to fill, whose
// mode found it remembers until unwiden or finishDir.
func (a *applier) widen(fd int) {
	if m, ok := a.openToSelf(fd); ok {
		a.rememberMode(fd, m)
	}
}

// rememberMode records the mode m that the directory fd had before the
// apply opened it to itself, for unwiden; a mode already recorded stays.
func (a *applier) rememberMode(fd int, m uint32) {
	if a.widened == nil {
		a.widened = make(map[int]uint32)
	}
	if _, ok := a.widened[fd]; !ok {
		a.widened[fd] = m
	}
}

// unwiden gives the directory fd back the mode widen found, when a walk
// that stops early leaves it before finishDir sets the image's.
func (a *applier) unwiden(fd int) {
	if m, ok := a.widened[fd]; ok {
		_ = unix.Fchmod(fd, m)
		delete(a.widened, fd)
	}
}

// modeLater reports whether the directory e, in which workers rename
// files or make deferred symlinks after the walk has left it (a.renamed),
// gets its mode only once they are done: an unprivileged apply could not
// rename or make a symlink in it once it has a mode without owner write
// permission.
func (a *applier) modeLater(e *wim.Entry) bool {
	return !a.isRoot && !a.passage(e) && a.mode(e, true)&0o300 != 0o300 && a.renamedSet[e]
}
