package snapshot

import (
	"errors"
	"io"
	"time"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
)

// This file holds what a capture is given and returns, on every platform;
// the walk itself is capture.go (UNIX) or capture_windows.go.

// StreamSink receives file contents during capture. A *wim.Writer
// satisfies it. Capture calls it from one goroutine.
type StreamSink interface {
	// AddStream stores size bytes read from r and returns their hash. It
	// returns an error wrapping wim.ErrSizeChanged when r ends early; an
	// error that r itself returned is passed through. Either leaves the
	// sink usable; any other error ends the capture.
	AddStream(r io.Reader, size int64) (wim.Hash, error)
	// HasStream reports whether the sink already holds the stream h.
	HasStream(h wim.Hash) bool
}

// CaptureOptions configures Capture. The zero value captures with DISM's
// default exclusions, UNIX data and xattrs, staying on one file system.
type CaptureOptions struct {
	// Config holds the exclusions; nil means DefaultConfig().
	Config *Config
	// CrossMounts descends into directories on other file systems. By
	// default a mount point is kept as an empty directory.
	CrossMounts bool
	// NoUnixData leaves out UNIX data (uid, gid, mode, rdev) and xattrs,
	// and skips FIFOs, sockets and device nodes, as wimlib does without
	// --unix-data.
	NoUnixData bool
	// Update is the previous image of the same tree (--update-of): a
	// regular file whose size and mtime (and, when the old entry has UNIX
	// data, mode, uid and gid) equal those of the entry at the same path
	// reuses its streams without being opened, provided the sink holds
	// them (HasStream).
	Update *wim.Metadata
	// Prepare, if set, is called once on the capturing goroutine after the
	// scan of the tree has begun and before any entry is captured. It may
	// set Update, UpdateHeld and Signatures, and nothing else: an
	// incremental snapshot loads its parent meanwhile. Its error ends the
	// capture.
	Prepare func(*CaptureOptions) error
	// UpdateHeld tells that Update's stream sizes were looked up in the
	// sink, 0 for a stream it lacks: a stream with a hash and a size is
	// then known to be held without asking HasStream once per file.
	UpdateHeld bool
	// Signatures, if set, narrows Update: a file is reused only when the
	// signature stored for its path (relative to the root, '/'-separated)
	// equals its current one (size, mtime, ctime, inode, mode; not the device
	// number, which a file system snapshot mounted afresh changes). It also
	// lets a symlink keep Update's reparse data without its target being
	// read, under the same condition.
	Signatures SigLookup
	// OnFile, if set, is called with the path (as for Signatures) and
	// signature of every regular file and symlink captured, read or
	// reused, and whether that signature is exactly the one Signatures
	// holds for the path; the path is valid only during the call.
	OnFile func(path []byte, sig index.Sig, stored bool)
	// Progress, if set, is called from the walking goroutine at most every
	// 100 ms, and once at the end.
	Progress func(Progress)
	// Warn, if set, is called once for every file skipped or captured with
	// a problem. path is the file's path under the root as given.
	Warn func(path string, err error)

	// ShadowCopy (Windows only) captures from a volume shadow copy of
	// root's volume made for the run and deleted after it, so that files
	// in use are captured as one consistent moment. Elsewhere it is an
	// error: use a file system snapshot (LVM, btrfs) instead.
	ShadowCopy bool

	// NTFS says whether Windows metadata is read through ntfs-3g's
	// extended attributes (security descriptors, attributes, times, short
	// names, named streams, reparse points) instead of UNIX data.
	NTFS NTFSMode

	// Skip lists files to leave out wherever they appear in the tree,
	// matched by device and inode, such as the WIM being written into the
	// source directory. Paths that do not exist are ignored.
	Skip []string

	// pathXattrs is a test hook: read xattrs by path, as on kernels
	// without listxattrat.
	pathXattrs bool

	// beforeOpen is a test hook called with the path of each regular file
	// read (not reused) before it is opened for reading, or for an empty
	// one looked at again, and of each symlink before its target is read.
	beforeOpen func(path string)
	// afterOpen is a test hook called with the path of each regular file
	// read, once it is open and before its metadata is taken.
	afterOpen func(path string)
	// beforeDir is a test hook called with the path of each directory
	// below the root once it is scanned, before the walk opens it (or
	// takes the scanner's descriptor of it).
	beforeDir func(path string)
	// keptDirs, for tests, replaces keptDirsMax when positive; negative
	// means that the scanner hands the walk no descriptors.
	keptDirs int
}

// SigLookup finds the stored signature of a path; *index.Files is one.
type SigLookup interface {
	Lookup(path []byte) (index.Sig, bool)
}

// progressTicker spaces progress reports at least 100 ms apart.
type progressTicker struct{ last time.Time }

// due reports whether a report is due now; a final report always is.
func (t *progressTicker) due(final bool) bool {
	now := time.Now()
	if !final && now.Sub(t.last) < 100*time.Millisecond {
		return false
	}
	t.last = now
	return true
}

// Progress is a snapshot of a running capture or apply.
type Progress struct {
	Files, Dirs, Bytes, Skipped int64
	Path                        string // the entry being processed
}

// CaptureStats counts what Capture did. Files counts regular files (every
// name of a hard-linked file), Bytes their sizes (once per inode),
// BytesRead what was actually read, Read the files opened and read, Reused
// the files whose streams came from CaptureOptions.Update. Skipped counts entries left out because of an
// error; Warnings the other warnings (names that are not UTF-8,
// unreadable xattrs), so that Skipped+Warnings is the number of Warn calls.
type CaptureStats struct {
	Dirs, Files, Symlinks, Special, Bytes, BytesRead, Read, Reused, Skipped, Warnings int64
}

// NTFSMode says whether a capture reads Windows metadata through ntfs-3g.
type NTFSMode int

// The NTFS modes.
const (
	NTFSAuto NTFSMode = iota // when the root has system.ntfs_attrib
	NTFSOn                   // always; a root without it is an error
	NTFSOff                  // never: UNIX data as on any file system
)

// ErrNotNTFS means an NTFS capture was asked for on a tree that is not on an
// ntfs-3g mount.
var ErrNotNTFS = errors.New("not on an ntfs-3g mount (no system.ntfs_attrib attribute)")

// ErrNoShadowCopy means CaptureOptions.ShadowCopy was asked for where
// volume shadow copies do not exist.
var ErrNoShadowCopy = errors.New("snapshot: volume shadow copies exist on Windows only; snapshot the file system (LVM, btrfs) in a pre hook instead")

// baseSetter is a sink that stores a changed file's stream as the
// differences from its previous version.
type baseSetter interface{ setBase(h wim.Hash) }

// walkReport is what a capture walk counts and how it reports warnings
// and progress, on every platform.
type walkReport struct {
	stats  CaptureStats
	ticker progressTicker
}

// warn counts a problem with the entry at path (skipped: left out) and
// passes it to opts.Warn.
func (r *walkReport) warn(opts *CaptureOptions, path string, skipped bool, err error) {
	if skipped {
		r.stats.Skipped++
	} else {
		r.stats.Warnings++
	}
	if opts.Warn != nil {
		opts.Warn(path, err)
	}
}

// progress reports to opts.Progress when a report is due; path names the
// entry being captured.
func (r *walkReport) progress(opts *CaptureOptions, final bool, path func() string) {
	if opts.Progress == nil || !r.ticker.due(final) {
		return
	}
	opts.Progress(Progress{Files: r.stats.Files, Dirs: r.stats.Dirs, Bytes: r.stats.Bytes,
		Skipped: r.stats.Skipped, Path: path()})
}

// childrenByName maps the children of old, the previous image's entry of
// a directory being walked, by name; nil for none.
func childrenByName(old *wim.Entry) map[string]*wim.Entry {
	if old == nil || len(old.Children) == 0 {
		return nil
	}
	m := make(map[string]*wim.Entry, len(old.Children))
	for _, ch := range old.Children {
		m[ch.Name] = ch
	}
	return m
}

// held reports whether sink holds s, a stream of Update.
func (o *CaptureOptions) held(sink StreamSink, s wim.Stream) bool {
	if s.Hash.IsZero() {
		return false
	}
	if o.UpdateHeld {
		return s.Size > 0
	}
	return sink.HasStream(s.Hash)
}

// prepare runs Prepare once.
func (o *CaptureOptions) prepare() error {
	if o.Prepare == nil {
		return nil
	}
	f := o.Prepare
	o.Prepare = nil
	return f(o)
}
