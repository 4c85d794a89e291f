//go:build unix

package wimtest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// CompareOptions relaxes CompareTrees. Access times are never compared.
type CompareOptions struct {
	// IgnoreOwners skips uid and gid.
	IgnoreOwners bool
	// IgnoreModes skips permission bits (types are still compared).
	IgnoreModes bool
	// IgnoreXattrs skips extended attributes.
	IgnoreXattrs bool
	// IgnoreTimes skips modification times.
	IgnoreTimes bool
	// IgnoreRoot skips the metadata (mode, owner, times, xattrs) of the
	// root directories themselves.
	IgnoreRoot bool
	// IgnorePaths lists paths relative to the roots ('/'-separated) that
	// are left out of the comparison with everything below them.
	IgnorePaths []string
	// NoReroot expects absolute symlink targets inside want to be kept as
	// they are. By default they must point to the same place inside got
	// (wimlib's and wimsnap's reparse point fixup).
	NoReroot bool
}

// node is what CompareTrees knows of one entry.
type node struct {
	typ      uint32 // S_IFMT bits
	perm     uint32
	uid, gid uint32
	rdev     uint64
	size     int64
	sum      [32]byte
	target   string
	xattrs   []string // "name=value" with the value quoted, sorted
	mtime    int64    // ns, truncated to 100 ns
	inode    [2]uint64
	linkedTo string // first name (sorted) of the names sharing the inode
}

// CompareTrees compares the trees at want and got: names, types, contents
// (SHA-256), sizes, hard-link structure, symlink targets, device numbers,
// modes, owners, xattrs and mtimes to 100 ns (directories too). Every
// difference is reported with t.Errorf; it returns whether the trees match.
func CompareTrees(t testing.TB, want, got string, opts CompareOptions) bool {
	t.Helper()
	wantAbs, err1 := filepath.Abs(want)
	gotAbs, err2 := filepath.Abs(got)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("CompareTrees: %v", err)
	}
	w, err := scanTree(want, opts)
	if err != nil {
		t.Fatalf("CompareTrees: scanning %s: %v", want, err)
	}
	g, err := scanTree(got, opts)
	if err != nil {
		t.Fatalf("CompareTrees: scanning %s: %v", got, err)
	}
	var diffs []string
	add := func(rel, format string, args ...any) {
		diffs = append(diffs, fmt.Sprintf("%q: ", "/"+rel)+fmt.Sprintf(format, args...))
	}
	paths := make([]string, 0, len(w))
	for p := range w {
		paths = append(paths, p)
	}
	for p := range g {
		if _, ok := w[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		wn, gn := w[p], g[p]
		switch {
		case gn == nil:
			add(p, "missing in %s", got)
			continue
		case wn == nil:
			add(p, "unexpected in %s", got)
			continue
		}
		compareNode(p, wn, gn, opts, wantAbs, gotAbs, add)
	}
	if len(diffs) > 0 {
		const max = 300
		more := ""
		if len(diffs) > max {
			more = fmt.Sprintf("\n... and %d more", len(diffs)-max)
			diffs = diffs[:max]
		}
		t.Errorf("trees differ (want %s, got %s), %d differences:\n%s%s", want, got, len(diffs), strings.Join(diffs, "\n"), more)
		return false
	}
	return true
}

func compareNode(p string, w, g *node, opts CompareOptions, wantRoot, gotRoot string, add func(string, string, ...any)) {
	if w.typ != g.typ {
		add(p, "type %s, want %s", typeName(g.typ), typeName(w.typ))
		return
	}
	meta := p != "" || !opts.IgnoreRoot
	if meta && !opts.IgnoreModes && w.perm != g.perm {
		add(p, "mode %#o, want %#o", g.perm, w.perm)
	}
	if meta && !opts.IgnoreOwners && (w.uid != g.uid || w.gid != g.gid) {
		add(p, "owner %d:%d, want %d:%d", g.uid, g.gid, w.uid, w.gid)
	}
	if meta && !opts.IgnoreTimes && w.mtime != g.mtime {
		add(p, "mtime %d, want %d (ns, 100 ns precision)", g.mtime, w.mtime)
	}
	if meta && !opts.IgnoreXattrs && !slices.Equal(w.xattrs, g.xattrs) {
		add(p, "xattrs %v, want %v", g.xattrs, w.xattrs)
	}
	switch w.typ {
	case unix.S_IFREG:
		if w.size != g.size {
			add(p, "size %d, want %d", g.size, w.size)
		} else if w.sum != g.sum {
			add(p, "contents differ")
		}
		if w.linkedTo != g.linkedTo {
			add(p, "hard link group %q, want %q", "/"+g.linkedTo, "/"+w.linkedTo)
		}
	case unix.S_IFLNK:
		want := w.target
		if !opts.NoReroot {
			if want == wantRoot {
				want = gotRoot
			} else if rest, ok := strings.CutPrefix(want, wantRoot+"/"); ok {
				want = gotRoot + "/" + rest
			}
		}
		if g.target != want {
			add(p, "symlink target %q, want %q", g.target, want)
		}
	case unix.S_IFCHR, unix.S_IFBLK:
		if w.rdev != g.rdev {
			add(p, "device %d:%d, want %d:%d", unix.Major(g.rdev), unix.Minor(g.rdev), unix.Major(w.rdev), unix.Minor(w.rdev))
		}
		fallthrough
	case unix.S_IFIFO, unix.S_IFSOCK:
		if w.linkedTo != g.linkedTo {
			add(p, "hard link group %q, want %q", "/"+g.linkedTo, "/"+w.linkedTo)
		}
	}
}

func typeName(t uint32) string {
	switch t {
	case unix.S_IFREG:
		return "file"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR:
		return "char device"
	case unix.S_IFBLK:
		return "block device"
	}
	return fmt.Sprintf("type %#o", t)
}

// scanTree reads every entry under root, keyed by '/'-separated relative
// path ("" for the root).
func scanTree(root string, opts CompareOptions) (map[string]*node, error) {
	nodes := map[string]*node{}
	byInode := map[[2]uint64][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "." {
			rel = ""
		}
		if slices.Contains(opts.IgnorePaths, rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		n, err := scanNode(p)
		if err != nil {
			return err
		}
		nodes[rel] = n
		if n.typ != unix.S_IFDIR && n.typ != unix.S_IFLNK {
			byInode[n.inode] = append(byInode[n.inode], rel)
		}
		return nil
	})
	for _, names := range byInode {
		sort.Strings(names)
		for _, n := range names {
			if len(names) > 1 {
				nodes[n].linkedTo = names[0]
			}
		}
	}
	return nodes, err
}

func scanNode(p string) (*node, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return nil, &os.PathError{Op: "lstat", Path: p, Err: err}
	}
	n := &node{
		typ: st.Mode & unix.S_IFMT, perm: st.Mode & 0o7777, uid: st.Uid, gid: st.Gid,
		rdev: st.Rdev, size: st.Size, inode: [2]uint64{st.Dev, st.Ino},
		mtime: (st.Mtim.Sec*1e9 + st.Mtim.Nsec) / 100 * 100,
	}
	switch n.typ {
	case unix.S_IFREG:
		sum, err := contentSum(p, st.Size)
		if err != nil {
			return nil, err
		}
		n.sum = sum
	case unix.S_IFLNK:
		t, err := os.Readlink(p)
		if err != nil {
			return nil, err
		}
		n.target = t
	}
	xs, err := listXattrs(p)
	if err != nil {
		return nil, err
	}
	n.xattrs = xs
	return n, nil
}

func listXattrs(p string) ([]string, error) {
	buf := make([]byte, 64<<10)
	sz, err := unix.Llistxattr(p, buf)
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil {
		return nil, &os.PathError{Op: "llistxattr", Path: p, Err: err}
	}
	var out []string
	for _, name := range bytes.Split(buf[:sz], []byte{0}) {
		if len(name) == 0 {
			continue
		}
		val := make([]byte, 64<<10)
		vn, err := unix.Lgetxattr(p, string(name), val)
		if err != nil {
			return nil, &os.PathError{Op: "lgetxattr " + string(name), Path: p, Err: err}
		}
		out = append(out, fmt.Sprintf("%s=%q", name, val[:vn]))
	}
	sort.Strings(out)
	return out, nil
}

// contentSum hashes the logical contents of the file p: every 64 KiB block
// that is not all zeros, with its offset. Holes are skipped without reading
// (SEEK_DATA), so that a 5 GiB sparse file is cheap and a hole equals
// written zeros.
func contentSum(p string, size int64) (sum [32]byte, err error) {
	f, err := os.Open(p)
	if err != nil {
		return sum, err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("closing %s: %w", p, cerr)
		}
	}()
	const block = 64 << 10
	h := sha256.New()
	buf := make([]byte, block)
	zero := make([]byte, block)
	fd := int(f.Fd())
	for off := int64(0); off < size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break
		}
		if err != nil {
			data = off
		}
		off = data / block * block
		n, err := f.ReadAt(buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return sum, fmt.Errorf("reading %s: %w", p, err)
		}
		if n == 0 {
			break
		}
		if !bytes.Equal(buf[:n], zero[:n]) {
			fmt.Fprintf(h, "%d:", off)
			h.Write(buf[:n])
		}
		off += int64(n)
	}
	h.Sum(sum[:0])
	return sum, nil
}
