//go:build unix

package snapshot

import (
	"context"
	"errors"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// planApply is Apply with DryRun: it walks the image against the target,
// counting what an in-place apply would write, keep and delete, and
// writes nothing.
func planApply(ctx context.Context, m *wim.Metadata, src StreamSource, target string, opts ApplyOptions) (ApplyStats, error) {
	a := &applier{ctx: ctx, src: src, opts: opts, target: target, absTarget: target, rootFD: -1,
		unixData: !opts.NoUnixData, isRoot: os.Geteuid() == 0}
	a.opts.InPlace = true
	if _, err := os.Stat("/proc/self/fd"); err == nil {
		a.procFD = true
	}
	fd, err := openDir(unix.AT_FDCWD, target, false)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return ApplyStats{}, &os.PathError{Op: "open", Path: target, Err: err}
	}
	if err != nil {
		fd = -1
	}
	if fd >= 0 {
		if a.guard, err = newGuard(fd, opts.Keep); err != nil {
			closeFD(fd)
			return ApplyStats{}, &os.PathError{Op: "stat", Path: target, Err: err}
		}
	}
	a.dirs.Add(1)
	a.applied = []*wim.Entry{m.Root}
	perr := a.plan(fd, m.Root)
	if fd >= 0 {
		closeFD(fd)
	}
	return a.statsSnapshot(), perr
}

// plan counts the children of e against the directory dfd (-1: missing).
func (a *applier) plan(dfd int, e *wim.Entry) error {
	depth := len(a.path)
	for _, ch := range e.Children {
		if err := a.ctx.Err(); err != nil {
			return err
		}
		if checkName(ch.Name) != nil {
			a.skipped.Add(1)
			continue
		}
		a.path = append(a.path[:depth], ch.Name)
		if err := a.planEntry(dfd, ch); err != nil {
			return err
		}
	}
	a.path = a.path[:depth]
	if dfd >= 0 {
		a.deleteExtra(dfd, e, nil) // counts only: DryRun
	}
	return nil
}

func (a *applier) planEntry(dfd int, e *wim.Entry) error {
	var st unix.Stat_t
	exists := dfd >= 0 && fstatat(dfd, e.Name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
	if e.IsDir() {
		a.dirs.Add(1)
		sub := -1
		if exists && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if fd, err := openDir(dfd, e.Name, true); err == nil {
				sub = fd
				defer closeFD(fd)
			}
		}
		return a.plan(sub, e)
	}
	if exists && st.Mode&unix.S_IFMT == unix.S_IFDIR { // a directory in the way
		gone := false
		if a.mayDelete(a.path) {
			n, kept := a.dryRemove(dfd, e.Name, "/"+strings.Join(a.path, "/"))
			a.deleted.Add(n)
			gone = kept == nil
		}
		if !gone { // kept, as the restore keeps it: the entry is skipped
			a.warn(true, errDirInWay)
			return nil
		}
	}
	switch {
	case e.IsReparse():
		a.symlinks.Add(1)
		if target, err := a.linkTarget(e); exists && err == nil && a.sameNode(dfd, e, target, &st) {
			a.planKeptNode(dfd, e, &st)
		}
	case a.specialType(e) != 0:
		a.special.Add(1)
		if exists && a.sameNode(dfd, e, "", &st) {
			a.planKeptNode(dfd, e, &st)
		}
	default:
		a.files.Add(1)
		a.planRegular(dfd, e, exists && st.Mode&unix.S_IFMT == unix.S_IFREG, &st)
	}
	return nil
}

// planRegular counts the regular file e as regular and replaceFile would
// apply it in place: a further name of an inode already planned is linked
// (kept when it is that inode), a file whose size, times and metadata
// match is kept, one whose metadata alone differs is kept when its
// contents match, and any other is written. isReg says that a regular
// file is there, with stat st.
func (a *applier) planRegular(dfd int, e *wim.Entry, isReg bool, st *unix.Stat_t) {
	if g := a.links[e.LinkID]; e.LinkID != 0 && g != nil && g.hash == e.Data.Hash {
		if isReg && g.ino == st.Ino && g.dev == st.Dev {
			a.unchanged.Add(1)
		}
		return
	}
	switch {
	case !isReg || uint64(st.Nlink) > a.imageNames(e):
	case a.sameFile(&a.walkX, dfd, e, st, a.path):
		a.unchanged.Add(1)
		a.addLinkGroup(e, st)
		return
	case st.Size == e.Data.Size && st.Size > 0 && st.Nlink == 1 && a.planSameContents(dfd, e):
		a.unchanged.Add(1)
		a.fixed.Add(1)
		a.addLinkGroup(e, st)
		return
	}
	a.bytes.Add(e.Data.Size)
	a.addLinkGroup(e, &unix.Stat_t{}) // a new inode: its further names link to it
}

// planKeptNode counts the symlink or special file e.Name in dfd, of stat
// st, as kept, and as fixed when keepNode would set its metadata.
func (a *applier) planKeptNode(dfd int, e *wim.Entry, st *unix.Stat_t) {
	a.unchanged.Add(1)
	if same, sameXattrs := a.nodeMetaSame(&a.walkX, dfd, e, a.path, st); !same || !sameXattrs {
		a.fixed.Add(1)
	}
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
