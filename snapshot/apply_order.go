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
// are written after it, in the order of its stream's rank.
type deferredFile struct {
	rank int
	e    *wim.Entry
	path []string
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
	a.deferred = append(a.deferred, deferredFile{rank: rank, e: e, path: slices.Clone(a.path)})
	return true
}

// writeDeferred hands the deferred files to the workers in stream order,
// reopening each below the target without following any symlink.
func (a *applier) writeDeferred() {
	slices.SortStableFunc(a.deferred, func(x, y deferredFile) int { return cmp.Compare(x.rank, y.rank) })
	for _, d := range a.deferred {
		fd, err := openBeneath(a.rootFD, d.path)
		if err != nil {
			a.warnPath(d.path, true, fmt.Errorf("reopen to write: %w", err))
			continue
		}
		select {
		case a.jobs <- fileJob{fd: fd, e: d.e, path: d.path, dir: -1}:
		case <-a.ctx.Done():
			closeFD(fd)
			return
		}
	}
}

// openBeneath opens the regular file at the path comps below the directory
// rootFD for writing, following no symlink on the way: with openat2 where
// the kernel has it (Linux 5.6), else one directory at a time with
// O_NOFOLLOW.
func openBeneath(rootFD int, comps []string) (int, error) {
	how := &unix.OpenHow{
		Flags:   unix.O_WRONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := unix.Openat2(rootFD, strings.Join(comps, "/"), how)
	if !errors.Is(err, unix.ENOSYS) {
		return fd, err
	}
	return openBeneathSlow(rootFD, comps)
}

// openBeneathSlow is openBeneath without openat2.
func openBeneathSlow(rootFD int, comps []string) (int, error) {
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
	fd, err := unix.Openat(dfd, comps[len(comps)-1], unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if dfd != rootFD {
		closeFD(dfd)
	}
	return fd, err
}

// preloadReparse reads, in the order of their bytes, the reparse data of
// the reparse points under roots whose streams lie in solid resources, so
// that the walk, which creates symlinks in tree order, does not decompress
// solid chunks out of order. A stream that fails to read is left for the
// walk, which reports it.
func (a *applier) preloadReparse(roots []*wim.Entry) {
	o, ok := a.src.(solidOrderer)
	if !ok {
		return
	}
	type want struct {
		rank int
		h    wim.Hash
	}
	var ws []want
	seen := map[wim.Hash]bool{}
	var visit func(e *wim.Entry)
	visit = func(e *wim.Entry) {
		if x := e.Ext; e.IsReparse() && x != nil && !x.Reparse.Hash.IsZero() && !seen[x.Reparse.Hash] {
			seen[x.Reparse.Hash] = true
			if rank, solid := o.SolidOrder(x.Reparse.Hash); solid {
				ws = append(ws, want{rank, x.Reparse.Hash})
			}
		}
		for _, c := range e.Children {
			visit(c)
		}
	}
	for _, r := range roots {
		visit(r)
	}
	slices.SortFunc(ws, func(x, y want) int { return cmp.Compare(x.rank, y.rank) })
	a.reparse = make(map[wim.Hash][]byte, len(ws))
	for _, w := range ws {
		if data, err := readReparse(a.src, w.h); err == nil {
			a.reparse[w.h] = data
		}
	}
}

// readReparse reads the reparse data stream h (at most 64 KiB, the most a
// reparse point holds).
func readReparse(src StreamSource, h wim.Hash) ([]byte, error) {
	rc, err := src.OpenStream(h)
	if err != nil {
		return nil, err
	}
	defer closeRead(rc)
	return io.ReadAll(io.LimitReader(rc, 1<<16))
}
