package snapshot

import (
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/wimsnap/wimsnap/wim"
)

// This file holds what an apply is given and returns, on every platform;
// the writing itself is apply.go (UNIX) or apply_windows.go.

// StreamSource gives the contents of an image's streams. A *wim.Reader
// satisfies it. The zero hash stands for a stream of no data (an empty
// reparse stream, say), which OpenStream gives without looking for it.
// OpenStream is called from several goroutines at once.
type StreamSource interface {
	OpenStream(h wim.Hash) (io.ReadCloser, error)
}

// ApplyOptions configures Apply. The zero value applies the whole image with
// its UNIX data, using GOMAXPROCS workers.
type ApplyOptions struct {
	// NoUnixData ignores UNIX data and xattrs: owners are not set, modes
	// are 0755 for directories and 0644 for files (0444 when READONLY),
	// and special files become empty regular files.
	NoUnixData bool
	// Paths, if not empty, extracts only these image paths and their
	// subtrees; each is placed under the target by its base name; one named
	// twice is extracted once. A path is '/'-separated, a '\' being part of
	// a name (a Linux name may hold one); where the image has no such path,
	// '\' separates too (`\Windows\System32`). A path that the image lacks
	// is an error wrapping ErrPathNotFound, reported before anything is
	// written.
	Paths []string
	// Progress, if set, is called at most every 100 ms, never twice at
	// once, and once at the end; also while Apply waits for large files
	// to be written (Bytes then counts the bytes written of those too).
	Progress func(Progress)
	// Warn, if set, is called once for every entry skipped or applied with
	// a problem; calls are serialised.
	Warn func(path string, err error)
	// Workers is the number of goroutines writing file contents; 0 means
	// runtime.GOMAXPROCS(0).
	Workers int

	// InPlace makes Apply a rollback of an existing tree: a regular file
	// whose size, mtime, mode, owner and xattrs already match is left
	// alone; one of the same size is hashed and, if its contents match,
	// only its metadata is set; any other is written to a temporary name
	// in its directory and renamed over the old one, so that it is
	// replaced whole or not at all. Symlinks with the same target and
	// special files of the same type are kept. Temporary files of an
	// interrupted run are removed.
	InPlace bool
	// Delete (with InPlace) removes entries the image lacks, and a
	// directory where the image has another kind of entry. Deletable, if
	// set, is asked first with the entry's path from the image root
	// ("/a/b"), and for each entry below a directory to be removed: one
	// it refuses is kept, and so are the directories holding it.
	Delete    bool
	Deletable func(path string) bool
	// Keep (with Delete) names directories never deleted, nor anything in
	// them, nor the directories holding them: the repository and its local
	// index when they lie inside the target. Nothing is ever deleted in a
	// file system other than the target's either (a mount point, a bind
	// mount). Each such directory is warned about and left as it is.
	Keep []string
	// Passages (with InPlace) are the directories of the image that are
	// there only to lead to what a filter selected (see Filter.Select):
	// made when missing, but when present their metadata is left alone.
	Passages map[*wim.Entry]bool
	// KeepXattrs (with InPlace) keeps the xattrs that a directory, or a
	// file whose contents match, found in place has and the image lacks:
	// an apply over an earlier tree sets the image's and leaves the
	// others, where a restore removes them so that the tree is the
	// snapshot's.
	KeepXattrs bool
	// NTFS says whether Windows metadata (security descriptors,
	// attributes, times, short names, named streams, reparse points) is
	// written through ntfs-3g's extended attributes instead of UNIX data;
	// NTFSAuto does so when the target is an ntfs-3g mount, unless the
	// image carries UNIX data (its root does) and NoUnixData is false. In place, a
	// file is kept when its size, times and Windows metadata match.
	NTFS NTFSMode
	// DryRun (with InPlace) writes nothing and counts what would be done:
	// Files, Symlinks and Special count what would be written or kept,
	// Unchanged what would be kept, Fixed those of them whose metadata
	// would be set and may be, Bytes what would be written, Deleted
	// the entries that would be deleted, counted as the apply counts them. Like
	// the apply, it reads a file whose metadata alone differs to tell
	// whether its contents match.
	DryRun bool

	// pathXattrs is a test hook: compare xattrs in place through paths,
	// as on kernels without listxattrat.
	pathXattrs bool
	// checkFirst is a test hook: in place, the helper that shares the
	// checks of regular files (sharedCheck) checks all of them before the
	// walk starts, so that the walk decides on its findings alone.
	checkFirst bool
}

// ApplyStats counts what Apply did. Files counts regular files (every name
// of a hard-linked file) applied, Bytes the content bytes of the files
// applied (not of one whose writing or replacement failed); Skipped
// counts entries left out, and extra entries left in place (Delete),
// because of an error. A new file whose data cannot be read from the
// source (damaged or missing) is left out, skipped, with every name of
// it: no empty file stands in for it.
// Unchanged counts the files, symlinks and special files an in-place
// apply kept, Fixed those of them whose metadata alone (times, mode,
// owner, xattrs) it set, without an error (a mode bit that the kernel
// drops for an unprivileged apply, setgid on a file of another group,
// counts as set), and Deleted the entries it removed (not the
// temporary files of killed runs, which it removes too).
type ApplyStats struct {
	Dirs, Files, Symlinks, Special, Bytes, Skipped, Unchanged, Fixed, Deleted int64
}

// ErrStreamRead is wrapped by the warning about a file whose data could
// not be read from the source (a WIM or a repository), as opposed to one
// that could not be written.
var ErrStreamRead = errors.New("snapshot: reading a file's data")

// ErrPathNotFound is wrapped by Apply's error for an ApplyOptions.Paths
// entry that the image lacks.
var ErrPathNotFound = errors.New("snapshot: path not in image")

// maxApplyDepth bounds the directory depth Apply descends to, as wimlib
// bounds it when reading.
const maxApplyDepth = 16384

// closeRead closes c, which was only read; its error has nothing to act on.
func closeRead(c io.Closer) { _ = c.Close() }

// selectPaths resolves ApplyOptions.Paths to entries, each once however
// often it is named; nil means the whole image.
func selectPaths(root *wim.Entry, paths []string) ([]*wim.Entry, error) {
	var tops []*wim.Entry
	for _, p := range paths {
		e := findPath(root, p)
		if e == nil && strings.Contains(p, `\`) {
			e = findPath(root, path.Clean("/"+strings.ReplaceAll(p, `\`, "/")))
		}
		if e == nil {
			return nil, fmt.Errorf("%w: %q", ErrPathNotFound, p)
		}
		if e == root {
			return nil, nil // the whole image
		}
		if !slices.Contains(tops, e) { // a path named twice is applied once
			tops = append(tops, e)
		}
	}
	return tops, nil
}

// findPath returns the entry at the '/'-separated path p below root, nil
// if there is none.
func findPath(root *wim.Entry, p string) *wim.Entry {
	e := root
	for _, comp := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' }) {
		var next *wim.Entry
		if e.IsDir() {
			for _, ch := range e.Children {
				if ch.Name == comp {
					next = ch
					break
				}
			}
		}
		if next == nil {
			return nil
		}
		e = next
	}
	return e
}

// errKeptDir is the warning for a directory of ApplyOptions.Keep, which a
// restore does not delete into.
var errKeptDir = errors.New("left alone: it holds the repository or its local index")
