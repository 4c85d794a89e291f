package snapshot

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// solidOrderer is implemented by a StreamSource (a *wim.Reader) whose
// streams are cheapest to read in a given order: streams in a WIM's solid
// resources share chunks of up to 64 MiB.
type solidOrderer interface {
	SolidOrder(h wim.Hash) (rank int, solid bool)
}

// deferredFile is a regular file created empty by the walk whose contents
// are written after it, in the order of its stream's rank.
type deferredFile struct {
	rank int
	e    *wim.Entry
	path []string
}

// deferFile reports whether the contents of e wait for the second pass,
// recording it if so; the walk has created the file and closes fd.
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
	a.deferred = append(a.deferred, deferredFile{rank: rank, e: e, path: slices.Clone(a.path)})
	return true
}

// writeDeferred hands the deferred files to the workers in stream order,
// reopening each below the target without following any symlink.
func (a *applier) writeDeferred() {
	slices.SortStableFunc(a.deferred, func(x, y deferredFile) int { return cmp.Compare(x.rank, y.rank) })
	for _, d := range a.deferred {
		how := &unix.OpenHow{
			Flags:   unix.O_WRONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		}
		fd, err := unix.Openat2(a.rootFD, strings.Join(d.path, "/"), how)
		if err != nil {
			a.warnPath(d.path, true, fmt.Errorf("reopen to write: %w", err))
			continue
		}
		select {
		case a.jobs <- fileJob{fd: fd, e: d.e, path: d.path}:
		case <-a.ctx.Done():
			closeFD(fd)
			return
		}
	}
}
