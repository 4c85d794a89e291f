package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/wimsnap/wimsnap/remote"
)

// Packs are tens of MiB, and several are in flight at once (being filled,
// uploading, being read by a restore). They wait in spool files on disk,
// in the cache directory, rather than in memory: memory stays flat however
// large packs are, and an upload that is retried reads its bytes again from
// the spool.
//
// A spool file is anonymous where the system allows it: made without a
// name (Linux's O_TMPFILE, which a local store can later link as an
// object) or removed right after it is created, it lives until closed,
// so a crash leaves nothing behind. Windows cannot remove an open file;
// there it is removed on Close, and sweepSpool removes what a crash left.

// spoolPrefix starts the names of spool files.
const spoolPrefix = "spool-"

// errSpool is wrapped by the errors of making a spool file: a failure of
// this machine's disk (full, unwritable), never of the repository.
var errSpool = errors.New("spool")

// spoolMaxAge is how old a spool file must be before sweepSpool takes it
// for a crash's leftover (no run holds one that long open).
const spoolMaxAge = 24 * time.Hour

// spoolFile is a temporary file of bytes written once, then read at will.
// Writes must not run concurrently with each other; ReadAt may run
// concurrently with itself.
type spoolFile struct {
	f    *os.File
	size int64
	anon bool // removed from its directory already
}

// newSpool creates an empty spool file in dir, creating dir if needed.
func newSpool(dir string) (*spoolFile, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", errSpool, err)
	}
	if f, err := openAnon(dir); err == nil {
		return &spoolFile{f: f, anon: true}, nil
	}
	f, err := os.CreateTemp(dir, spoolPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errSpool, err)
	}
	// Anonymous from now on; if the removal fails, Close or sweepSpool
	// removes it.
	anon := runtime.GOOS != "windows" && os.Remove(f.Name()) == nil
	return &spoolFile{f: f, anon: anon}, nil
}

// Write appends p.
func (s *spoolFile) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	s.size += int64(n)
	return n, err
}

// ReadAt reads the spooled bytes at off.
func (s *spoolFile) ReadAt(p []byte, off int64) (int, error) { return s.f.ReadAt(p, off) }

// writeBehind starts writing to the disk the n bytes written at off (see
// startWriteback).
func (s *spoolFile) writeBehind(off, n int64) { startWriteback(s.f, off, n) }

// Size is the number of bytes written.
func (s *spoolFile) Size() int64 { return s.size }

// reader returns a reader of all spooled bytes that can seek back (for an
// upload's retry).
func (s *spoolFile) reader() *io.SectionReader { return io.NewSectionReader(s.f, 0, s.size) }

// put stores the spooled bytes in store under key; a retry reads them
// again from the file. A store that can take the file itself does
// (remote.FilePutter), after which the file must not be written.
func (s *spoolFile) put(ctx context.Context, store remote.Store, key string) error {
	if fp, ok := store.(remote.FilePutter); ok {
		return fp.PutFile(ctx, key, s.f, s.size)
	}
	return store.Put(ctx, key, s.reader(), s.size)
}

// Close releases the file and its disk space.
func (s *spoolFile) Close() error {
	err := s.f.Close()
	if s.anon {
		return err
	}
	if rerr := os.Remove(s.f.Name()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}

// sweepSpool removes spool files in dir older than spoolMaxAge: those a
// crash left where spool files cannot be anonymous. Errors are ignored:
// a leftover costs disk space, not correctness.
func sweepSpool(dir string, now time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), spoolPrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && now.Sub(fi.ModTime()) > spoolMaxAge {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// readSpool is where the pack windows of a Repo's reads wait (packCache):
// the spool directory, until its disk refuses one (full, read-only), then
// this user's directory in the system's temporary directory (tempSpool);
// the index cache's disk may have room for the index and not for packs.
// The caches of one Repo share it, so that they move, and warn, once. It
// is safe for concurrent use.
type readSpool struct {
	mu    sync.Mutex
	dir   string
	moved bool        // dir is tempSpool's
	warn  func(error) // told of the move; nil: not told
}

// current returns the directory spool files go to now.
func (s *readSpool) current() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dir
}

// moveFrom is called when the disk of failed, a directory current
// returned, refused a spool file with err. It returns true when the caller
// should try again in current(): the spool moved to the temporary
// directory (warned about once), now or since failed was returned; false
// when failed is that directory already, or it cannot be made.
func (s *readSpool) moveFrom(failed string, err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.moved {
		return failed != s.dir
	}
	tmp, terr := tempSpool()
	if terr != nil {
		return false
	}
	sweepSpool(tmp, time.Now()) // what a crash left where spool files have names (Windows)
	s.dir, s.moved = tmp, true
	if s.warn != nil {
		s.warn(fmt.Errorf("%w; the packs read from now on are kept in %s", err, tmp))
	}
	return true
}

// tempSpool returns this user's directory for spool files in the system's
// temporary directory, wimsnap-spool-UID (wimsnap-spool on Windows, whose
// temporary directory is the user's own), made private if missing. One
// there that is not this user's private directory (made by another user,
// to block the spool or to watch it) is refused, not used. (A directory
// of a random name instead would be left behind by every run.)
func tempSpool() (string, error) {
	dir := filepath.Join(os.TempDir(), "wimsnap-spool"+userSuffix())
	err := os.Mkdir(dir, 0o700)
	if err == nil || errors.Is(err, fs.ErrExist) && ownPrivateDir(dir) {
		return dir, nil
	}
	if err == nil || errors.Is(err, fs.ErrExist) {
		err = errors.New("it is not this user's private directory")
	}
	return "", fmt.Errorf("%s: %w", dir, err)
}
