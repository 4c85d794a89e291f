//go:build unix

package snapshot

import (
	"context"
	"errors"
	"os"

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
	if exists && st.Mode&unix.S_IFMT == unix.S_IFDIR && a.mayDelete(a.path) {
		a.deleted.Add(1) // a directory in the way
	}
	switch {
	case e.IsReparse():
		a.symlinks.Add(1)
		if target, err := a.linkTarget(e); exists && err == nil && a.sameNode(dfd, e, target, &st) {
			a.unchanged.Add(1)
		}
	case a.specialType(e) != 0:
		a.special.Add(1)
		if exists && a.sameNode(dfd, e, "", &st) {
			a.unchanged.Add(1)
		}
	default:
		a.files.Add(1)
		if exists && st.Mode&unix.S_IFMT == unix.S_IFREG && uint64(st.Nlink) <= a.imageNames(e) &&
			a.sameFile(&a.walkX, dfd, e, &st, a.path) {
			a.unchanged.Add(1)
		} else {
			a.bytes.Add(e.Data.Size)
		}
	}
	return nil
}
