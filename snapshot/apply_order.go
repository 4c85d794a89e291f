//go:build unix

package snapshot

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// solidOrderer is implemented by a StreamSource whose streams are
// cheapest to read in a given order: streams in a WIM's solid resources
// share chunks of up to 64 MiB (*wim.Reader), and streams in a
// repository share packs (repoSource).
type solidOrderer interface {
	SolidOrder(h wim.Hash) (rank int, solid bool)
}

// deferredFile is a regular file created empty by the walk whose contents
// are written after it, or a symlink created after it, in the order of its
// stream's rank: the symlinks' reparse data lie among the files' data, and
// reading them in the walk would read solid chunks or packs out of order,
// and so again.
type deferredFile struct {
	rank int
	e    *wim.Entry
	at   pathAt
	link bool
}

// deferFile reports whether the contents of e wait for the second pass,
// recording it if so; the walk has created the file (new, also in place,
// where a run interrupted before the second pass leaves it empty for the
// next run to replace) and closes fd.
func (a *applier) deferFile(fd int, e *wim.Entry) bool {
	o, ok := a.src.(solidOrderer)
	if !ok || e.Data.Hash.IsZero() {
		return false
	}
	rank, solid := o.SolidOrder(e.Data.Hash)
	if !solid {
		return false
	}
	closeFD(fd)
	a.deferred = append(a.deferred, deferredFile{rank: rank, e: e, at: a.here()})
	a.holdModes()
	return true
}

// holdModes keeps the directories above the file being deferred open to
// their owner until the deferred files are written (modeLater, retime),
// where the image's mode bars the owner from writing or searching in one
// (0644, 0555): an unprivileged apply, which cannot pass such a mode,
// could not reopen the file, which stayed empty. As root it does nothing.
func (a *applier) holdModes() {
	if a.isRoot {
		return
	}
	for d := a.walkDir; d != nil; d = d.parent {
		if a.mode(d.e, true)&0o300 != 0o300 {
			a.retimeDirLater(d)
		}
	}
}

// deferLink reports whether the symlink e waits for the pass after the
// walk, recording it if so.
func (a *applier) deferLink(e *wim.Entry) bool {
	o, ok := a.src.(solidOrderer)
	if !ok || e.Ext == nil || e.Ext.Reparse.Hash.IsZero() {
		return false
	}
	rank, solid := o.SolidOrder(e.Ext.Reparse.Hash)
	if !solid {
		return false
	}
	a.deferred = append(a.deferred, deferredFile{rank: rank, e: e, at: a.here(), link: true})
	a.retimeLater() // making the link changes its directory's times
	return true
}

// writeDeferred hands the deferred files and symlinks to the workers in
// stream order, files reopened below the target without following any
// symlink. Symlinks go through the workers too, so that reading their
// reparse data never runs ahead of the files in the queue: the pack
// windows the walk would touch early could push out those the workers
// still read.
func (a *applier) writeDeferred() {
	slices.SortStableFunc(a.deferred, func(x, y deferredFile) int { return cmp.Compare(x.rank, y.rank) })
	for _, d := range a.deferred {
		if a.ctx.Err() != nil {
			return
		}
		j := fileJob{fd: -1, e: d.e, at: d.at, dir: -1, link: d.link}
		if !d.link {
			fd, err := openBeneath(a.rootFD, d.at.comps(), unix.O_WRONLY)
			if err != nil {
				a.dropUnopened(d.at, fmt.Errorf("reopen to write: %w", err))
				continue
			}
			j.fd = fd
		}
		select {
		case a.jobs <- j:
		case <-a.ctx.Done():
			closeFD(j.fd)
			return
		}
		a.progress(false)
	}
}

// dropUnopened is dropFailed for the deferred file at p that could not
// be reopened to write, for err: its stat is read through its directory;
// where even that fails, it stays, empty, and is reported so.
func (a *applier) dropUnopened(p pathAt, err error) {
	var st unix.Stat_t
	dfd, derr := a.openPath(p.dir.comps())
	if derr == nil {
		derr = fstatat(dfd, p.name, &st, unix.AT_SYMLINK_NOFOLLOW)
		a.closeOpened(dfd)
	}
	if derr != nil {
		a.warnPath(p.comps(), true, fmt.Errorf("%w (the file stays, empty: it could not be removed)", err))
		return
	}
	a.dropFailed(p, st, err)
}

// deferredLink makes a deferred symlink in its directory; workers call it.
func (a *applier) deferredLink(j fileJob) {
	path := j.at.comps()
	dfd, err := a.openPath(path[:len(path)-1])
	if err != nil {
		a.warnPath(path, true, fmt.Errorf("reopen the directory: %w", err))
		return
	}
	a.makeSymlink(new(xattrBufs), dfd, j.e, path) // on a worker
	a.closeOpened(dfd)
}

// openBeneath opens the file at the path comps below the directory rootFD
// with the open flags mode (O_WRONLY, O_RDONLY...), following no symlink on
// the way: with openat2 where the kernel has it (Linux 5.6), else one
// directory at a time with O_NOFOLLOW.
func openBeneath(rootFD int, comps []string, mode int) (int, error) {
	how := &unix.OpenHow{
		Flags:   uint64(mode | unix.O_NOFOLLOW | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := unix.Openat2(rootFD, strings.Join(comps, "/"), how)
	if !errors.Is(err, unix.ENOSYS) {
		return fd, err
	}
	return openBeneathSlow(rootFD, comps, mode)
}

// openBeneathSlow is openBeneath without openat2.
func openBeneathSlow(rootFD int, comps []string, mode int) (int, error) {
	dfd := rootFD
	for _, c := range comps[:len(comps)-1] {
		next, err := openDir(dfd, c, true)
		if dfd != rootFD {
			closeFD(dfd)
		}
		if err != nil {
			return -1, err
		}
		dfd = next
	}
	fd, err := unix.Openat(dfd, comps[len(comps)-1], mode|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if dfd != rootFD {
		closeFD(dfd)
	}
	return fd, err
}

// maxReparse bounds the reparse data read (64 KiB, the most a reparse
// point holds) and the symlink targets kept in place (keepLink).
const maxReparse = 1 << 16

// readReparse reads the reparse data stream h (at most maxReparse bytes).
func readReparse(src StreamSource, h wim.Hash) ([]byte, error) {
	rc, err := src.OpenStream(h)
	if err != nil {
		return nil, err
	}
	defer closeRead(rc)
	return io.ReadAll(io.LimitReader(rc, maxReparse))
}
