//go:build unix

package snapshot

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// A DOS name is unique in its directory. When a rollback gives a file the
// DOS name that another file still holds, which that file gives up only
// later in the same run (two files that swapped DOS names), setting it
// fails with EEXIST. Such names are set once more after every file has
// been applied.

// dosLater is a file whose DOS name waits for the end of the apply.
type dosLater struct {
	fd int // a duplicate of the file's descriptor, kept until then
	e  *wim.Entry
}

// dosQueue holds the files whose DOS names wait.
type dosQueue struct {
	mu    sync.Mutex
	files []dosLater
}

// setDOSName gives the open file fd e's DOS name n; when another file
// holds n, it queues the file for setDeferredDOSNames instead and returns
// nil.
func (a *applier) setDOSName(fd int, e *wim.Entry, n string) error {
	err := unix.Fsetxattr(fd, string(xNTFSDosName), []byte(n), 0)
	if !errors.Is(err, unix.EEXIST) {
		if err != nil {
			err = fmt.Errorf("%s: %w", xNTFSDosName, err)
		}
		return err
	}
	dup, derr := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if derr != nil {
		return fmt.Errorf("%s: %w (and keeping the file to set it later: %w)", xNTFSDosName, err, derr)
	}
	a.dosQueue.mu.Lock()
	a.dosQueue.files = append(a.dosQueue.files, dosLater{fd: dup, e: e})
	a.dosQueue.mu.Unlock()
	return nil
}

// setDeferredDOSNames sets the DOS names that were held by other files
// when first set, then the files' times again (a change of names touches
// them); workers must be done. The waiting files first drop the DOS names
// they have, which frees the names they hold from each other (two files
// that swapped names both wait). A name still held is warned about.
func (a *applier) setDeferredDOSNames() {
	for _, d := range a.dosQueue.files {
		_ = unix.Fremovexattr(d.fd, string(xNTFSDosName)) // none (ENODATA) is fine; a failure shows below
	}
	for _, d := range a.dosQueue.files {
		err := unix.Fsetxattr(d.fd, string(xNTFSDosName), []byte(d.e.ShortName()), 0)
		if err == nil {
			err = unix.Fsetxattr(d.fd, string(xNTFSTimes), ntfsTimes(d.e), 0)
		}
		if err != nil {
			a.warnPath(a.fdPath(d.fd, d.e), false, fmt.Errorf("%s %q: %w", xNTFSDosName, d.e.ShortName(), err))
		}
		closeFD(d.fd)
	}
	a.dosQueue.files = nil
}

// fdPath names the open file fd, e's, from the target for a message: by
// /proc/self/fd, else by e's name alone.
func (a *applier) fdPath(fd int, e *wim.Entry) []string {
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	rel, ok := strings.CutPrefix(p, strings.TrimSuffix(a.absTarget, "/")+"/")
	if err != nil || !ok {
		return []string{e.Name}
	}
	return strings.Split(rel, "/")
}
