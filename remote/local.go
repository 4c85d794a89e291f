package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
)

// tmpPrefix starts the names of the temporary files of Put and PutIfAbsent.
// No key component starts with '.', so List never reports them and no key
// can name one.
const tmpPrefix = ".tmp-"

// Local is a Store in a directory. Each object is one file at the key's
// path below the directory (key "packs/ab/cd" is the file packs/ab/cd);
// directories are made as needed and never removed. A repository holds
// copies of files readable only by their owners, so what Local makes is
// private: directories get mode 0o700 and files 0o600, the directory
// itself too when NewLocal makes it. A directory that its owner shares
// with a group (set-group-ID, so that what is made in it is that group's)
// gives its group its own access to what is made in it, whatever the
// umask: directories get its group bits and set-group-ID bit (0o2770),
// files 0o640. Others get no access either way.
//
// Put and PutIfAbsent write a temporary file named ".tmp-<random>" in the
// object's directory, fsync it, move it into place with rename(2) or
// link(2), and fsync the directory (and the parent of every directory they
// make), so an object is there whole or not at all, also after a crash. A
// crash can leave temporary files behind; List ignores them and they are
// safe to delete when no Put is running. PutIfAbsent needs hard links, which
// some file systems (FAT, some FUSE and SMB mounts) refuse: it then fails
// and stores nothing. Delete fsyncs the directory too. Under an Ephemeral
// context they skip the fsyncs of the object's directory (but for new
// directories): the object is still whole, if there, after a crash.
//
// A directory is no object: Get, Stat and Delete report ErrNotFound for it
// and List walks it. Symbolic links are followed, so a key's directory, or
// its file, may be a link to another disk. A key whose file is (or leads
// to) a FIFO, a socket or a device is a damaged object: List reports it,
// Get and Stat fail with ErrDamaged (not ErrNotFound, and without waiting
// on the FIFO), Delete removes it (a link, not what it leads to). A key
// whose parent is an object ("a" when "a/b" is asked
// for) is not found; putting "a/b" then fails, so the local store cannot
// hold both "a" and "a/b" as Memory and S3 can.
//
// Writes (Put, PutIfAbsent, PutFile, Delete) to a repository that is
// another user's (its config's owner) and not shared with a group fail
// with ErrForeign, for any user but root: what they made would be private
// to their maker, and the repository's owner could no longer read it.
// Reads go ahead. What root makes in such a repository is given to its
// owner and group.
//
// A Local is safe for concurrent use by several goroutines and processes
// sharing the directory.
type Local struct {
	root     string
	dirMode  os.FileMode  // of the directories it makes
	fileMode os.FileMode  // of the files it makes
	foreign  error        // of every write: another user's repository (repoOwnership)
	giveTo   *fileOwner   // whom what it makes is given (repoOwnership); nil: this process's
	syncs    atomic.Int64 // fsyncs of files and directories, for tests
}

var _ Store = (*Local)(nil)

// errNotRegular marks a directory where an object was asked for: no
// object has that key (S3 has no directories).
var errNotRegular = errors.New("not a regular file")

// NewLocal returns a store in dir, which is made (with its parents) if it
// does not exist, private, or shared as the nearest directory above it
// that exists is (see Local). A relative dir is made absolute against the
// working directory now.
func NewLocal(dir string) (*Local, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local store %s: %w", dir, err)
	}
	rootMode, err := makeRoot(root)
	if err != nil {
		return nil, fmt.Errorf("local store: %w", err)
	}
	mode := modeBelow(rootMode)
	giveTo, foreign := repoOwnership(root, rootMode)
	return &Local{root: root, dirMode: mode, fileMode: mode.Perm() &^ 0o111 &^ 0o020, foreign: foreign, giveTo: giveTo}, nil
}

// privateDir is the mode of the directories of a Local that no group
// shares.
const privateDir = 0o700

// shared reports whether a directory of mode m is shared with its group:
// set-group-ID, so that what is made in it is the directory's group's
// (install -d -m 2770 -g GROUP). A group-writable directory alone (/tmp)
// is not: what is made in it is its maker's primary group's.
func shared(m os.FileMode) bool { return m&os.ModeSetgid != 0 }

// modeBelow returns the mode of a directory made in one of mode parent:
// private, or, when parent is shared, with parent's group access and
// set-group-ID bit.
func modeBelow(parent os.FileMode) os.FileMode {
	if !shared(parent) {
		return privateDir
	}
	return privateDir | parent.Perm()&0o070 | os.ModeSetgid
}

// makeRoot makes the missing directories of root, each private, or with
// the group access and set-group-ID bit of the nearest existing directory
// above when that one is shared, whatever the umask: a repository made in
// a directory shared with a group (/srv/wimsnap/pc1) is shared too. It
// returns root's mode, and ENOTDIR when root is a file.
func makeRoot(root string) (os.FileMode, error) {
	var missing []string
	anc := root
	var fi os.FileInfo
	for {
		var err error
		if fi, err = os.Stat(anc); err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) || filepath.Dir(anc) == anc {
			return 0, err
		}
		missing = append(missing, anc)
		anc = filepath.Dir(anc)
	}
	if len(missing) == 0 {
		if !fi.IsDir() {
			return 0, &fs.PathError{Op: "mkdir", Path: root, Err: syscall.ENOTDIR}
		}
		return fi.Mode(), nil
	}
	mode := modeBelow(fi.Mode())
	for _, d := range slices.Backward(missing) {
		err := os.Mkdir(d, mode.Perm())
		if errors.Is(err, fs.ErrExist) {
			continue // made meanwhile, by another process: its maker sets its mode
		}
		if err == nil {
			err = shareDir(d, mode)
		}
		if err != nil {
			return 0, err
		}
	}
	return mode, nil
}

// shareDir gives the directory d, just made with mode's permissions less
// the umask, mode itself when mode shares it with a group: the usual
// umask (022) takes the group's write access away, and the group could not
// take locks.
func shareDir(d string, mode os.FileMode) error {
	if !shared(mode) {
		return nil
	}
	return os.Chmod(d, mode)
}

// Location implements Store; it returns the absolute path of the directory.
func (l *Local) Location() string { return l.root }

// Put implements Store.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := l.checkWrite(ctx, "put", key); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("remote: put %s: negative size %d", key, size)
	}
	dir, err := l.mkdirs(key)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	tmp, err := l.writeTemp(ctx, dir, r, size)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return l.place(ctx, tmp, dir, key)
}

// place renames tmp, a complete temporary file in dir, to key's file and
// fsyncs dir (unless ctx is Ephemeral); on failure it removes tmp.
func (l *Local) place(ctx context.Context, tmp, dir, key string) error {
	if err := os.Rename(tmp, l.path(key)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := l.syncDir(ctx, dir); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// PutIfAbsent implements Store. The final name is made with link(2), which
// fails when the name exists, atomically also against other processes.
func (l *Local) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if err := l.checkWrite(ctx, "put-if-absent", key); err != nil {
		return err
	}
	p := l.path(key)
	if _, err := os.Lstat(p); err == nil {
		return fmt.Errorf("put-if-absent %s: %w", key, ErrExists)
	}
	dir, err := l.mkdirs(key)
	if err != nil {
		return fmt.Errorf("put-if-absent %s: %w", key, err)
	}
	tmp, err := l.writeTemp(ctx, dir, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("put-if-absent %s: %w", key, err)
	}
	err = os.Link(tmp, p)
	_ = os.Remove(tmp) // a leftover temporary file is harmless
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("put-if-absent %s: %w", key, ErrExists)
	}
	if errors.Is(err, syscall.EPERM) || errors.Is(err, errors.ErrUnsupported) { // FAT's link(2), a file system without links
		return fmt.Errorf("put-if-absent %s: %w (a local repository needs a file system with hard links, which FAT and exFAT lack)", key, err)
	}
	if err == nil {
		err = l.syncDir(ctx, dir)
	}
	if err != nil {
		return fmt.Errorf("put-if-absent %s: %w", key, err)
	}
	return nil
}

// Get implements Store. The reader reads the open file, so it sees the
// object as it was at Get even if a Put replaces it meanwhile.
func (l *Local) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	o, err := l.open(ctx, "get", key)
	if err != nil {
		return nil, err
	}
	n, err := checkRange(o.size, off, length)
	if err != nil {
		_ = o.Close() // read-only: nothing to lose
		return nil, keyErr("get", key, err)
	}
	return &rangeReader{ctx: ctx, r: io.NewSectionReader(o, off, n), c: o, left: n}, nil
}

var _ Opener = (*Local)(nil)

// Open implements Opener.
func (l *Local) Open(ctx context.Context, key string) (Object, error) {
	o, err := l.open(ctx, "open", key)
	if err != nil {
		return nil, err
	}
	return o, nil
}

// open opens the object file of key for op.
func (l *Local) open(ctx context.Context, op, key string) (localObject, error) {
	if err := checkKey(ctx, op, key); err != nil {
		return localObject{}, err
	}
	f, err := os.OpenFile(l.path(key), openObjectFlags, 0)
	if err != nil {
		return localObject{}, keyErr(op, key, openError(err))
	}
	fi, err := regular(f.Stat())
	if err != nil {
		_ = f.Close() // read-only: nothing to lose
		return localObject{}, keyErr(op, key, err)
	}
	return localObject{f, fi.Size()}, nil
}

// localObject is an object file open for reading.
type localObject struct {
	*os.File
	size int64
}

func (o localObject) Size() int64 { return o.size }

// Stat implements Store.
func (l *Local) Stat(ctx context.Context, key string) (Info, error) {
	if err := checkKey(ctx, "stat", key); err != nil {
		return Info{}, err
	}
	fi, err := regular(os.Stat(l.path(key)))
	if err != nil {
		return Info{}, keyErr("stat", key, err)
	}
	return Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Delete implements Store. A key that is a symbolic link removes the
// link, not what it leads to (but for a link to a directory, which is
// no object); so does one whose file is no object (a FIFO).
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := l.checkWrite(ctx, "delete", key); err != nil {
		return err
	}
	p := l.path(key)
	_, err := regular(os.Stat(p))
	if err == nil || errors.Is(err, ErrDamaged) || danglingLink(p) {
		err = os.Remove(p)
	}
	if err == nil {
		err = l.syncDir(ctx, filepath.Dir(p))
	}
	if err != nil {
		return keyErr("delete", key, err)
	}
	return nil
}

// checkWrite is checkKey for a write, which also fails when the store
// refuses writes (ErrForeign).
func (l *Local) checkWrite(ctx context.Context, op, key string) error {
	if err := checkKey(ctx, op, key); err != nil {
		return err
	}
	if l.foreign != nil {
		return fmt.Errorf("%s %s: %w", op, key, l.foreign)
	}
	return nil
}

// path returns the file of a valid key.
func (l *Local) path(key string) string {
	return filepath.Join(l.root, filepath.FromSlash(key))
}

// mkdirs makes the directories of key below the root as needed, fsyncing
// the parent of each one it makes, and returns the key's directory. A
// component that exists as a file is left for the caller's next step to
// fail on (ENOTDIR).
func (l *Local) mkdirs(key string) (string, error) {
	dir := filepath.Dir(l.path(key))
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return dir, nil
	}
	cur := l.root
	for c := range strings.SplitSeq(path.Dir(key), "/") {
		parent := cur
		cur = filepath.Join(cur, c)
		err := os.Mkdir(cur, l.dirMode.Perm())
		switch {
		case err == nil:
			if err := shareDir(cur, l.dirMode); err != nil {
				return "", err
			}
			if err := l.ownDir(cur); err != nil {
				return "", err
			}
			if err := SyncDir(parent); err != nil {
				return "", err
			}
		case errors.Is(err, fs.ErrExist):
			// made by a concurrent Put, or a file: then the next step fails
		default:
			return "", err
		}
	}
	return dir, nil
}

// writeTemp writes exactly size bytes of r to a new temporary file in dir
// and fsyncs it, also under an Ephemeral context: a name that a crash
// keeps must never lead to a file that lost its bytes. It returns the
// file's name, or removes the file on error.
func (l *Local) writeTemp(ctx context.Context, dir string, r io.Reader, size int64) (string, error) {
	name := filepath.Join(dir, tmpPrefix+rand.Text())
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, l.fileMode)
	if err != nil {
		return "", err
	}
	if shared(l.dirMode) {
		err = f.Chmod(l.fileMode) // the group reads it, whatever the umask
	}
	if err == nil {
		err = l.own(f)
	}
	if err == nil {
		err = copyExact(ctx, f, r, size)
	}
	if err == nil {
		l.syncs.Add(1)
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(name) // the write already failed; the name is random
		return "", err
	}
	return name, nil
}

// syncDir fsyncs dir, so that the names made or removed in it last,
// unless ctx is Ephemeral.
func (l *Local) syncDir(ctx context.Context, dir string) error {
	if !Durable(ctx) {
		return nil
	}
	l.syncs.Add(1)
	return SyncDir(dir)
}

// danglingLink reports whether p is a symbolic link that leads nowhere.
func danglingLink(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode()&fs.ModeSymlink != 0
}

// regular passes on the result of a stat, turning a directory into an
// error wrapping errNotRegular and any other file that is not a regular
// one (a FIFO, a device) into an error wrapping ErrDamaged.
func regular(fi fs.FileInfo, err error) (fs.FileInfo, error) {
	switch {
	case err != nil || fi.Mode().IsRegular():
	case fi.IsDir():
		err = fmt.Errorf("%s: %w", fi.Name(), errNotRegular)
	default:
		err = fmt.Errorf("%w (a %s)", ErrDamaged, fileType(fi.Mode()))
	}
	return fi, err
}

// fileType names the type of a file that is neither regular nor a
// directory.
func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// keyErr names op and key in err, and adds ErrNotFound when err says that
// no object has the key: the file does not exist, a parent is a file, or it
// is not a regular file.
func keyErr(op, key string, err error) error {
	if gone(err) || errors.Is(err, errNotRegular) {
		return fmt.Errorf("%s %s: %w: %w", op, key, ErrNotFound, err)
	}
	return fmt.Errorf("%s %s: %w", op, key, err)
}
