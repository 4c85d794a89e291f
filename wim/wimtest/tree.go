//go:build unix

package wimtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TreeOptions selects the optional parts of MakeTree.
type TreeOptions struct {
	// Sparse5G adds "sparse5g", a 5 GiB sparse file with a few bytes of
	// data at 1 GiB and at its end.
	Sparse5G bool
	// NonUTF8 adds a file and a directory whose names are not valid UTF-8
	// (NonUTF8Name and NonUTF8Dir); wimlib-imagex refuses to capture them.
	NonUTF8 bool
}

// Names of the optional entries of MakeTree.
const (
	NonUTF8Name = "bad\xff\xfename.txt"
	NonUTF8Dir  = "dir\xc3"
	Sparse5G    = "sparse5g"
)

// LongName is a 255-byte file name, the Linux maximum.
var LongName = strings.Repeat("n", 251) + ".txt"

// MakeTree fills dir (created if missing) with every kind of entry a
// capture must handle: empty, small, text and random files of many sizes
// (within, at and across 32 KiB chunk boundaries; incompressible), long,
// Unicode and odd names, names differing only in case, 40 nested
// directories, hard links with 2 and 3 names, relative, absolute (inside
// and outside the tree), dangling and directory symlinks, a FIFO, a
// socket, xattrs with binary values, setuid/setgid/sticky bits, an empty
// directory and sub-second mtimes on everything. As root it adds character
// and block devices, trusted.* xattrs and entries owned by 1234:5678.
// Contents are deterministic.
func MakeTree(t testing.TB, dir string, opts TreeOptions) {
	t.Helper()
	m := &treeMaker{t: t, dir: dir, rnd: rand.New(rand.NewPCG(1, 2)), root: os.Geteuid() == 0}
	m.mkdir("")
	m.build(opts)
	m.setTimes()
}

type treeMaker struct {
	t    testing.TB
	dir  string
	rnd  *rand.Rand
	root bool
}

func (m *treeMaker) path(rel string) string { return filepath.Join(m.dir, rel) }

func (m *treeMaker) check(err error) {
	m.t.Helper()
	if err != nil {
		m.t.Fatalf("MakeTree: %v", err)
	}
}

func (m *treeMaker) mkdir(rel string) { m.t.Helper(); m.check(os.MkdirAll(m.path(rel), 0o755)) }

func (m *treeMaker) file(rel string, data []byte, mode os.FileMode) {
	m.t.Helper()
	p := m.path(rel)
	m.check(os.WriteFile(p, data, 0o600))
	m.check(os.Chmod(p, mode)) // not subject to the umask; keeps setuid
}

func (m *treeMaker) random(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(m.rnd.Uint32())
	}
	return b
}

func (m *treeMaker) symlink(target, rel string) {
	m.t.Helper()
	m.check(os.Symlink(target, m.path(rel)))
}

// xattr sets an xattr on rel without following it; unsupported ones are
// left out.
func (m *treeMaker) xattr(rel, name string, value []byte) {
	m.t.Helper()
	err := unix.Lsetxattr(m.path(rel), name, value, 0)
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) {
		return
	}
	m.check(err)
}

func (m *treeMaker) build(opts TreeOptions) {
	m.t.Helper()
	// Regular files.
	m.file("empty.txt", nil, 0o644)
	m.file("small.txt", []byte("hello, wim\n"), 0o644)
	var text strings.Builder
	for i := 0; text.Len() < 300<<10; i++ {
		fmt.Fprintf(&text, "%06d: The quick brown fox jumps over the lazy dog; WIM chunk test line.\n", i)
	}
	m.mkdir("data")
	m.file("data/text-300k.txt", []byte(text.String()), 0o644)
	for _, n := range []int{1, 100, 4095, 32767, 32768, 32769, 65536, 100000, 1 << 20, 3<<20 + 17} {
		m.file(fmt.Sprintf("data/random-%d.bin", n), m.random(n), 0o644)
	}
	m.file("data/zeros-200k.bin", make([]byte, 200<<10), 0o644)
	mixed := append(append(m.random(40000), make([]byte, 100000)...), m.random(5000)...)
	m.file("data/mixed.bin", mixed, 0o640)
	m.file("data/same-as-small.txt", []byte("hello, wim\n"), 0o644) // duplicate content

	// Names.
	m.mkdir("names")
	for _, n := range []string{LongName, "héllo wörld.txt", "日本語のファイル.txt", "emoji 😀🎉.txt",
		"Ωmega", "colon:name", `back\slash`, "star*name", "quest?ion", " leading space",
		"trailing space ", ".hidden", "Case.txt", "case.txt", "CASE.TXT", "a", "B", "c"} {
		m.file("names/"+n, []byte(n), 0o644)
	}
	if opts.NonUTF8 {
		m.file("names/"+NonUTF8Name, []byte("not utf-8"), 0o644)
		m.mkdir("names/" + NonUTF8Dir)
		m.file("names/"+NonUTF8Dir+"/inside", []byte("x"), 0o644)
	}

	// Deep nesting.
	deep := "deep"
	for i := range 40 {
		deep += fmt.Sprintf("/l%02d", i)
	}
	m.mkdir(deep)
	m.file(deep+"/bottom.txt", []byte("bottom"), 0o644)

	// Hard links.
	m.mkdir("links/hard/other")
	m.file("links/hard/two-a", []byte("two names"), 0o644)
	m.check(os.Link(m.path("links/hard/two-a"), m.path("links/hard/two-b")))
	m.file("links/hard/three-a", m.random(70000), 0o600)
	m.check(os.Link(m.path("links/hard/three-a"), m.path("links/hard/three-b")))
	m.check(os.Link(m.path("links/hard/three-a"), m.path("links/hard/other/three-c")))
	m.file("links/hard/empty-a", nil, 0o644)
	m.check(os.Link(m.path("links/hard/empty-a"), m.path("links/hard/empty-b")))

	// Symlinks.
	m.symlink("../../small.txt", "links/rel-file")
	m.symlink("../../data", "links/rel-dir")
	m.symlink("/etc/passwd", "links/abs-outside")
	abs, err := filepath.Abs(m.dir)
	m.check(err)
	m.symlink(filepath.Join(abs, "small.txt"), "links/abs-inside")
	m.symlink(filepath.Join(abs, "data"), "links/abs-inside-dir")
	m.symlink(abs, "links/abs-root")
	m.symlink("does/not/exist", "links/dangling")
	m.symlink(`back\slash/target`, "links/backslash-target")
	m.symlink("日本語", "links/unicode-target")

	// Special files.
	m.mkdir("special")
	m.check(unix.Mkfifo(m.path("special/fifo"), 0o640))
	m.check(unix.Mknod(m.path("special/socket"), unix.S_IFSOCK|0o755, 0))
	if m.root {
		m.check(unix.Mknod(m.path("special/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
		m.check(unix.Mknod(m.path("special/loop9"), unix.S_IFBLK|0o660, int(unix.Mkdev(7, 9))))
	}

	// Modes, xattrs, owners.
	m.mkdir("modes")
	m.file("modes/setuid", []byte("#!/bin/sh\n"), 0o4755)
	m.file("modes/setgid", []byte("#!/bin/sh\n"), 0o2711)
	m.file("modes/readonly", []byte("ro"), 0o444)
	m.file("modes/private", []byte("secret"), 0o600)
	m.mkdir("modes/sticky")
	m.check(os.Chmod(m.path("modes/sticky"), 0o1777))
	m.mkdir("modes/setgid-dir")
	m.check(os.Chmod(m.path("modes/setgid-dir"), 0o2775))
	m.mkdir("modes/private-dir")
	m.file("modes/private-dir/inner", []byte("inner"), 0o644)
	m.check(os.Chmod(m.path("modes/private-dir"), 0o700))

	m.mkdir("xattrs")
	m.file("xattrs/file", []byte("with xattrs"), 0o644)
	m.xattr("xattrs/file", "user.test", []byte("hello"))
	m.xattr("xattrs/file", "user.binary", []byte{0, 1, 2, 0xff, 0xfe, 0, 'x'})
	m.xattr("xattrs/file", "user.empty", nil)
	m.xattr("xattrs/file", "user.big", m.random(3000))
	m.xattr("xattrs", "user.dir", []byte("on a directory"))
	m.xattr("", "user.root", []byte("on the root"))
	if m.root {
		m.xattr("xattrs/file", "trusted.secret", []byte("trusted value"))
		m.xattr("links/abs-outside", "trusted.onlink", []byte("symlink xattr"))
		m.xattr("special/fifo", "trusted.onfifo", []byte("fifo xattr"))
		m.mkdir("owners/dir")
		m.file("owners/file", []byte("owned"), 0o4750)
		m.symlink("file", "owners/link")
		for _, p := range []string{"owners/dir", "owners/file", "special/fifo"} {
			m.check(os.Lchown(m.path(p), 1234, 5678))
		}
		m.check(os.Lchown(m.path("owners/link"), 4321, 8765))
		// chown clears setuid: set it again.
		m.check(os.Chmod(m.path("owners/file"), 0o4750))
	}

	m.mkdir("emptydir")

	if opts.Sparse5G {
		f, err := os.Create(m.path(Sparse5G))
		m.check(err)
		_, err = f.WriteAt([]byte("one GiB"), 1<<30)
		m.check(err)
		_, err = f.WriteAt([]byte("end"), 5<<30-3)
		m.check(err)
		m.check(f.Close())
	}
}

// setTimes gives every entry a distinct mtime and atime with nanoseconds,
// children before parents so that directories keep theirs.
func (m *treeMaker) setTimes() {
	m.t.Helper()
	base := time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC).UnixNano()
	var paths []string
	m.check(filepath.WalkDir(m.dir, func(p string, d os.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	}))
	for i := len(paths) - 1; i >= 0; i-- {
		mt := base + int64(i)*1_000_000_007
		ts := []unix.Timespec{unix.NsecToTimespec(mt + 86400e9), unix.NsecToTimespec(mt)}
		m.check(unix.UtimesNanoAt(unix.AT_FDCWD, paths[i], ts, unix.AT_SYMLINK_NOFOLLOW))
	}
}

// SparseFile creates path as a file of size bytes that are all a hole: it
// costs no disk, yet reads as size zero bytes.
func SparseFile(t testing.TB, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// RandomBytes returns n pseudo-random bytes, the same for the same seed.
func RandomBytes(seed uint64, n int) []byte {
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rnd.Uint64())
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(rnd.Uint32())
	}
	return b
}

// FillDisk writes the file path until its file system has about leave
// bytes free, for tests of a full disk; removing the file frees the space.
func FillDisk(t testing.TB, path string, leave int64) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(path), &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	if err := os.WriteFile(path, make([]byte, max(free-leave, 0)), 0o600); err != nil {
		t.Fatal(err)
	}
}
