//go:build unix

package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// Apply writes the image m, whose streams come from src, into the directory
// target, which is created if missing. Existing non-directories in the way
// are replaced, a regular file whole (its replacement is written to a
// temporary name beside it and renamed over it, so that a failed or
// interrupted apply leaves it as it was), another kind removed first;
// existing directories are merged into. The error is non-nil
// only when the apply could not finish: target unusable, a path of Paths
// missing, a write failing for lack of space, or ctx cancelled.
func Apply(ctx context.Context, m *wim.Metadata, src StreamSource, target string, opts ApplyOptions) (ApplyStats, error) {
	if m == nil || m.Root == nil || !m.Root.IsDir() {
		return ApplyStats{}, errors.New("image has no root directory")
	}
	tops, err := selectPaths(m.Root, opts.Paths)
	if err != nil {
		return ApplyStats{}, err
	}
	if opts.DryRun {
		return planApply(ctx, m, src, target, opts)
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return ApplyStats{}, fmt.Errorf("apply target: %w", err)
	}
	rootFD, err := openDir(unix.AT_FDCWD, target, false)
	if err != nil {
		return ApplyStats{}, fmt.Errorf("apply target: %w", &os.PathError{Op: "open", Path: target, Err: err})
	}
	defer closeFD(rootFD)
	abs, err := filepath.Abs(target)
	if err != nil {
		return ApplyStats{}, fmt.Errorf("apply target: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a := &applier{
		ctx: ctx, cancel: cancel, src: src, opts: opts, target: target, absTarget: abs,
		rootFD: rootFD, unixData: !opts.NoUnixData, isRoot: os.Geteuid() == 0, token: newRunToken(),
	}
	if a.guard, err = newGuard(rootFD, opts.Keep); err != nil {
		return ApplyStats{}, fmt.Errorf("apply target: %w", &os.PathError{Op: "stat", Path: target, Err: err})
	}
	a.mountsBelow = opts.InPlace && mountsBelow(rootFD)
	a.noXattrAt.Store(opts.pathXattrs)
	a.foldCase = a.foldsCase(rootFD)
	a.clampsTimes = clampsTimes(rootFD)
	if _, err := os.Stat("/proc/self/fd"); err == nil {
		a.procFD = true
	}
	if err := a.probeNTFS(a.rootFD, m); err != nil {
		return ApplyStats{}, err
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	a.jobs = make(chan fileJob, 4*workers)
	for range workers {
		a.wg.Add(1)
		go a.worker()
	}
	stopIdle := a.reportWhileIdle()
	walkErr := a.walk(tops, m.Root)
	if walkErr == nil {
		a.writeDeferred()
	}
	close(a.jobs)
	a.wg.Wait()
	stopIdle()
	a.setDeferredDOSNames()
	a.reattributeLinked()
	a.retimeDropped()
	a.retime()
	a.setDeferredDOSNames() // those retime's metadata queued
	fatal, removed := a.fatalErr(), 0
	if fatal != nil || walkErr != nil || ctx.Err() != nil {
		removed = a.removeUnfilled()
	}
	a.progress(true)
	st := a.statsSnapshot()
	if fatal != nil {
		if removed > 0 {
			again := "run it again once there is space"
			if exhausted(fatal) != nil {
				again = "run it again"
			}
			fatal = fmt.Errorf("%w (%s not yet written removed; %s)", fatal, countFiles(removed), again)
		}
		return st, fatal
	}
	if walkErr != nil {
		return st, walkErr
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	return st, a.syncChanges(st)
}

// syncChanges flushes the target's file system (syncfs) after a rollback
// that changed the tree, so that it is on disk once Apply reports it
// done: a file replaced by a rename (commitTemp) may otherwise reach the
// disk after its new name, and a crash then leave it empty under that
// name on file systems that do not order the two (XFS), or a machine
// reset right after a rollback lose part of it. A crash before the end
// leaves files that differ from the image, which a rollback run again
// rewrites. A new tree (an empty target) is not flushed: it replaces
// nothing. File systems mounted below the target are flushed too.
func (a *applier) syncChanges(st ApplyStats) error {
	if !a.opts.InPlace || a.fresh || a.opts.DryRun {
		return nil
	}
	if st.Files+st.Symlinks+st.Special == st.Unchanged && st.Deleted == 0 && st.Fixed == 0 && !a.dirsFixed.Load() {
		return nil
	}
	if err := syncTree(a.rootFD); err != nil {
		return fmt.Errorf("flushing the restored files to disk: %w", err)
	}
	return nil
}

type fileJob struct {
	fd int
	e  *wim.Entry
	at pathAt // for messages

	// In place: the file replaces its name in the directory dir (a
	// descriptor the job owns, -1 otherwise) through the temporary name
	// tmp, unless verify is set and the contents already match. Where a
	// directory holds the name, aside is the temporary name it is
	// renamed to (swapDir), and the job runs on the walk's goroutine.
	dir    int
	tmp    string
	aside  string
	verify bool
	// replacing: the file replaces another (replaceFile), and its stream
	// is read when the walk comes to it (chunkReuser). old, when set, is
	// the file being replaced, open for the source to take the blocks it
	// already holds from.
	replacing bool
	old       *oldFile

	// link: make the symlink e (fd is -1) in its directory, reopened
	// below the target; a deferred symlink is made by the workers in the
	// order of its data, beside the files around it.
	link bool
}

// linkGroup is the first name applied of a hard-linked inode.
type linkGroup struct {
	at       pathAt // its first name
	hash     wim.Hash
	ino, dev uint64 // the inode, when known (in place)
}

// applier is the state of one Apply. The walk (creating entries) runs on
// Apply's goroutine; workers write file contents and file metadata. (Writing
// small files on the walking goroutine instead was measured slower: the
// workers' parallelism is worth more than the hand-off.)
type applier struct {
	ctx       context.Context
	cancel    context.CancelFunc
	src       StreamSource
	opts      ApplyOptions
	target    string
	absTarget string
	rootFD    int
	unixData  bool
	isRoot    bool
	// inheritsACL is set once a directory with a default ACL is seen
	// (apply_acl.go).
	inheritsACL atomic.Bool
	procFD      bool

	groupsOnce sync.Once // sets groups, the supplementary groups (keepsSetgid)
	groups     []int
	groupsErr  bool // they could not be read

	jobs chan fileJob
	wg   sync.WaitGroup

	dirs, files, symlinks, special, bytes, skipped, unchanged, fixed, deleted atomic.Int64
	// writing counts the bytes written of the files being written, which
	// bytes counts once they are done: for progress alone.
	writing atomic.Int64
	// dirsFixed: the metadata of a directory found in place was set
	// (finishDir), which no count shows but syncChanges flushes.
	dirsFixed atomic.Bool

	ntfs    *ntfsTarget  // an ntfs-3g target: Windows metadata, no UNIX data
	token   string       // names this run's temporary files (in place)
	guard   guard        // what deletions leave alone (in place)
	tempSeq atomic.Int64 // numbers them (workers make deferred symlinks)
	walkBuf []byte       // for files written on the walking goroutine
	walkX   xattrBufs    // for xattr comparisons on the walking goroutine
	dirents []byte       // deleteExtra's listing buffer (walking goroutine)
	// dryUnlinked counts, in a dry run, the names of each hard-linked
	// regular file that the run would have deleted or replaced so far (walking
	// goroutine; see linkCount).
	dryUnlinked map[devIno]uint64
	curDir      *wim.Entry // the directory whose children the walk creates
	// foldCase: the target does not tell names apart by case (foldsCase).
	foldCase bool
	// clampsTimes: the target's file system clamps the times it cannot
	// hold to its limits, timeLo and timeHi, which limits probes once,
	// when a time beyond 32 bits first needs them; in a dry run (which
	// probes nothing, both 0) to one of the known limits (sameWriteTime).
	clampsTimes    bool
	limitsOnce     sync.Once
	probed         atomic.Bool // limitsOnce has run
	timeLo, timeHi int64
	// fresh: the walk is in a directory this apply made (or an empty
	// target), where nothing else is: in place, there is nothing to
	// compare or delete. The walking goroutine's alone (see inPlace).
	fresh   bool
	renamed []renamedDir // directories whose times are set again at the end
	// mkdir makes a directory of mode 0700 (nil: unix.Mkdirat); tests
	// inject failures.
	mkdir func(dfd int, name string) error
	// noXattrAt says that the kernel lacks listxattrat: xattrs are
	// compared through paths.
	noXattrAt atomic.Bool

	mu    sync.Mutex // guards fatal, dropped and Warn calls
	fatal error
	// dropped are the directories files were removed from by workers
	// (dropFailed), whose times retime sets again.
	dropped []renamedDir
	// dropMu serialises the directory mode changes of unlinkInOwnDir.
	dropMu sync.Mutex

	path         []string     // components of the entry being created
	walkDir      *dirPath     // the directory of that entry, as pathAt holds it
	check        *sharedCheck // a restore in place's helper, or nil
	nextFile     int          // the number of the next regular file (sharedCheck)
	links        map[uint64]*linkGroup
	renamedSet   map[*wim.Entry]bool             // the directories in renamed
	swept        map[*wim.Entry]bool             // directories sweepTemps has cleared (nil key: the target)
	passageTimes map[*wim.Entry][2]unix.Timespec // of passages found in place, which keep them
	mountRoots   map[*wim.Entry]bool             // directories found in place that are the roots of other mounts
	boundRoots   map[*wim.Entry]bool             // those that are directories bind-mounted there (boundDirs)
	boundDirs    map[uint64]bool                 // boundDirs, read at the first mount root
	metaWarned   map[*wim.Entry]bool             // directories whose metadata finishDir warned about
	// mountsBelow: a file system may be mounted below the target, so
	// that directories found in place are checked for mount roots.
	mountsBelow bool
	// touched: a dry run's note that the directory it plans changes (a
	// name made, replaced or deleted in it), which sets its mtime.
	touched bool
	// applied are the trees the walk applies; linkNames counts the names
	// of each hard-linked inode in them, when a rollback needs it.
	applied       []*wim.Entry
	linkNames     map[uint64]uint64
	linkNamesOnce sync.Once
	deferred      []deferredFile // files and symlinks made after the walk, in the order of their data
	unfilled      unfilledFiles  // new files not yet written
	dosQueue      dosQueue       // files whose DOS names others held (NTFS)
	ntfsLinked    []ntfsLinked   // files given further names (NTFS), by the walk
	// widened holds the modes found of the directories (by descriptor)
	// that widen opened to this user and whose own mode is not set yet;
	// the walking goroutine's alone.
	widened map[int]uint32
	// progressMu serialises progress reports, the walk's and progressIdle's,
	// and guards ticker and shownPath.
	progressMu sync.Mutex
	ticker     progressTicker
	shownPath  string // of the walk's last report
	shownBytes int64  // of the last report
	// asides maps the paths of old entries that swaps renamed aside, while
	// they are deleted, to their paths in the image (renamedAside).
	asidesMu sync.Mutex
	asides   map[string]string
}

func (a *applier) walk(tops []*wim.Entry, root *wim.Entry) error {
	a.applied = tops
	if tops == nil {
		a.applied = []*wim.Entry{root}
	}
	a.warnOwners(a.applied)
	if tops == nil {
		if a.opts.InPlace {
			a.foundDir(a.rootFD, root)
		} else {
			a.widen(a.rootFD) // as makeDir does for one found
		}
		a.fresh = a.opts.InPlace && a.ntfs == nil && emptyDir(a.rootFD)
		a.noteACLs()
		a.check = a.startCheck(root)
		defer a.check.end()
		if err := a.dir(a.rootFD, root); err != nil {
			a.unwiden(a.rootFD)
			return err
		}
		a.dirs.Add(1)
		a.finishDir(a.rootFD, root, a.opts.InPlace)
		return nil
	}
	a.noteACLs()
	seen := make(map[string]bool, len(tops))
	folded := a.foldedNames(len(tops)) // as dir: the target may not tell the names apart
	for _, e := range tops {
		if seen[e.Name] {
			a.warn(true, errors.New("two paths with the same base name; the second is skipped"))
			continue
		}
		seen[e.Name] = true
		if err := a.ctx.Err(); err != nil {
			return err
		}
		a.path = append(a.path[:0], e.Name)
		if err := foldClash(folded, e.Name); err != nil {
			a.warn(true, err)
			continue
		}
		a.curDir = nil // the target's own times are not the image's to set
		if err := a.entry(a.rootFD, e, nil); err != nil {
			return err
		}
	}
	return nil
}

// dir creates the children of e in the directory dfd, recursing; in
// place, it first deletes what e lacks (deleteExtra), so that the space
// that frees is there for the files it writes.
func (a *applier) dir(dfd int, e *wim.Entry) error {
	first := firstNames(e.Children)
	folded := a.foldedNames(len(e.Children))
	if a.inPlace() { // first: the space it frees may be what the writes need
		a.noteDefaultACL(dfd) // one found in place may have an ACL the image lacks
		a.curDir = e
		a.deleteExtra(dfd, e, first)
	}
	depth := len(a.path)
	next := a.nextFile
	for i, ch := range e.Children {
		n := next // the number of ch or of its first file (sharedCheck)
		next += a.check.filesIn(a, ch)
		a.nextFile = n
		if err := a.ctx.Err(); err != nil {
			return err
		}
		a.path = append(a.path[:depth], ch.Name)
		a.curDir = e
		if a.skipChild(ch, i, first, depth) {
			continue
		}
		if first != nil {
			if err := foldClash(folded, ch.Name); err != nil {
				a.warn(true, err)
				continue
			}
		}
		var found *fileCheck
		if next == n+1 && !ch.IsDir() {
			found = a.check.take(n)
		}
		if err := a.entry(dfd, ch, found); err != nil {
			return err
		}
	}
	a.nextFile = next
	a.path = a.path[:depth]
	return nil
}

// inPlace reports whether the walk restores in place where it is: with
// ApplyOptions.InPlace, outside the directories this apply made, where
// every name is new, as in an apply that is not in place. The walking
// goroutine's alone: workers go by ApplyOptions.InPlace.
func (a *applier) inPlace() bool { return a.opts.InPlace && !a.fresh }

// entry creates e, named by the last element of a.path, in dfd; found,
// when not nil, is what the shared check found there (regular files).
func (a *applier) entry(dfd int, e *wim.Entry, found *fileCheck) error {
	defer a.progress(false)
	switch {
	case e.IsDir():
		return a.subdir(dfd, e)
	case e.IsReparse():
		a.symlink(dfd, e)
	case a.specialType(e) != 0:
		a.specialFile(dfd, e)
	default:
		a.regular(dfd, e, found)
	}
	return nil
}

func (a *applier) subdir(dfd int, e *wim.Entry) error {
	if len(a.path) > maxApplyDepth {
		a.warn(true, errors.New("directory nesting too deep; skipped"))
		return nil
	}
	fd, existed := a.openExistingDir(dfd, e.Name, e)
	if existed && a.intoMount(e) {
		a.unwiden(fd)
		closeFD(fd)
		return nil
	}
	if existed {
		a.foundDir(fd, e)
	}
	made := false
	if fd < 0 {
		var ok bool
		if fd, made, ok = a.makeDir(dfd, e.Name); !ok {
			return nil
		}
		if made {
			a.warnNamedStreams(e)
		}
	}
	if a.ntfs != nil {
		a.ntfsCompressDir(fd, e)
	}
	defer closeFD(fd)
	a.dirs.Add(1)
	leave := a.enter(e)
	wasFresh := a.fresh
	a.fresh = wasFresh || made && a.ntfs == nil
	err := a.dir(fd, e)
	a.fresh = wasFresh
	leave()
	if err != nil {
		a.unwiden(fd) // finishDir does not run: the mode found goes back
		return err
	}
	if a.passage(e) {
		a.unwiden(fd) // a mount root found in place keeps its mode
	} else {
		delete(a.widened, fd) // finishDir sets the mode
	}
	// Nothing is created in this directory any more: its times stay.
	a.finishDir(fd, e, existed)
	return nil
}

// finishDir sets the metadata of the directory fd, made for e or, when
// existed, found in place: there only when it differs, and then without
// the xattrs e lacks, and never on a passage (see passage).
func (a *applier) finishDir(fd int, e *wim.Entry, existed bool) {
	switch {
	case existed && a.passage(e):
		if ts, ok := a.passageTimes[e]; ok {
			_ = futimens(fd, &ts) // as they were, whatever the walk made in it
		}
	case a.modeLater(e):
		// Workers still write in it: the mode follows them (retime).
		ts := timespecs(e)
		_ = futimens(fd, &ts)
	case !existed:
		a.setDirMeta(fd, e, false)
	case !a.sameDirMeta(fd, e):
		a.dirsFixed.Store(true)
		a.setDirMeta(fd, e, true)
	}
}

// setDirMeta sets the owner, xattrs, mode and times of the directory e,
// open as fd, in finishDir, and removes the xattrs e lacks with
// dropOthers. It warns once about what failed, and records that it warned
// (metaWarned), so that retime, setting its times again, does not warn
// twice about the same directory.
func (a *applier) setDirMeta(fd int, e *wim.Entry, dropOthers bool) {
	errs := a.metaErrors(fd, e, true)
	if dropOthers {
		if err := a.dropOtherXattrs(xattrTarget{fd: fd, dfd: -1}, e); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return
	}
	a.warnMeta(a.path, errs)
	if a.metaWarned == nil {
		a.metaWarned = make(map[*wim.Entry]bool)
	}
	a.metaWarned[e] = true
}

// makeDir creates the directory name in dfd, replacing any other entry of
// that name (swapInDir), and opens it; made reports that mkdir made it
// (one found is used as it is), and ok false, having warned, that it
// cannot.
func (a *applier) makeDir(dfd int, name string) (fd int, made, ok bool) {
	err := a.mkdirAt(dfd, name)
	existed := false
	if errors.Is(err, unix.EEXIST) {
		var st unix.Stat_t
		if fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			err = a.swapInDir(dfd, name)
		} else {
			err, existed = nil, true
		}
	}
	if err != nil {
		a.warn(true, fmt.Errorf("mkdir: %w", a.explain(dfd, name, err)))
		return -1, false, false
	}
	fd, err = openDir(dfd, name, true)
	if err != nil {
		a.warn(true, fmt.Errorf("open directory: %w", err))
		return -1, false, false
	}
	if existed {
		// Left by an earlier apply, perhaps with the image's mode 0555:
		// what it holds must be replaceable. Its mode is set when done.
		a.widen(fd)
	}
	return fd, !existed, true
}

// mkdirAt creates the directory name in dfd, of mode 0700 until the
// apply sets its own.
func (a *applier) mkdirAt(dfd int, name string) error {
	if a.mkdir != nil {
		return a.mkdir(dfd, name)
	}
	return unix.Mkdirat(dfd, name, 0o700)
}

func (a *applier) regular(dfd int, e *wim.Entry, found *fileCheck) {
	name := e.Name
	if a.inPlace() {
		done, existing, verify := a.inPlaceRegular(dfd, e, found)
		if done {
			return
		}
		if existing {
			a.replaceLater(dfd, e, verify)
			return
		}
	}
	if e.LinkID != 0 {
		if g := a.links[e.LinkID]; g != nil && g.hash == e.Data.Hash && a.linkName(dfd, name, e, g) {
			return
		}
	}
	fd, err := createRegular(dfd, name)
	if errors.Is(err, errRegularInWay) {
		// Not in place (extract onto existing files): the file stays whole
		// until its replacement is written beside it and renamed over it.
		a.replaceLater(dfd, e, false)
		return
	}
	if err != nil {
		a.warn(true, fmt.Errorf("create: %w", a.explain(dfd, name, err)))
		return
	}
	if e.LinkID != 0 && a.links[e.LinkID] == nil {
		if a.links == nil {
			a.links = make(map[uint64]*linkGroup)
		}
		a.links[e.LinkID] = &linkGroup{at: a.here(), hash: e.Data.Hash}
	}
	a.warnNamedStreams(e)
	a.files.Add(1)
	a.unfilled.add(a.here())
	if a.deferFile(fd, e) {
		return
	}
	select {
	case a.jobs <- fileJob{fd: fd, e: e, at: a.here(), dir: -1}:
	case <-a.ctx.Done():
		closeFD(fd) // still empty
	}
}

// skipChild reports whether ch, the i-th child of its directory, is left
// out for its name (checkName, or a sibling's again: first is firstNames
// of the children), having warned and counted it skipped. The directory's
// path is the first depth components of a.path; a refused name is warned
// about by it, the name quoted: joined to it, "../../x" reads as a path
// outside the target. The restore and its dry run skip alike.
func (a *applier) skipChild(ch *wim.Entry, i int, first map[string]int, depth int) bool {
	if err := checkName(ch.Name); err != nil {
		a.warnPath(a.path[:depth], true, err)
		return true
	}
	if first != nil && first[ch.Name] != i {
		a.warnPath(append(a.path[:depth:depth], ch.Name), true, errors.New("duplicate name in directory; skipped"))
		return true
	}
	return false
}

// warnNamedStreams warns about the named data streams of the file or
// directory e, made new, that a target other than NTFS has no place for.
func (a *applier) warnNamedStreams(e *wim.Entry) {
	switch n := len(e.NamedStreams()); {
	case a.ntfs != nil || n == 0:
	case n == 1:
		a.warn(false, errors.New("1 named data stream not applied (no place for it on Linux)"))
	default:
		a.warn(false, fmt.Errorf("%d named data streams not applied (no place for them on Linux)", n))
	}
}

func (a *applier) setFatal(err error) {
	a.mu.Lock()
	if a.fatal == nil {
		a.fatal = err
	}
	a.mu.Unlock()
	a.cancel()
}

func (a *applier) fatalErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fatal
}

// display names an entry for messages; it is not cleaned, so that a
// refused ".." shows as it is.
func (a *applier) display(comps []string) string {
	if len(comps) == 0 {
		return a.target
	}
	return strings.TrimSuffix(a.target, "/") + "/" + strings.Join(comps, "/")
}

// warn reports a problem with the entry at a.path (walk goroutine only).
func (a *applier) warn(skipped bool, err error) { a.warnPath(a.path, skipped, err) }

// warnPath reports a problem with the entry at comps. Running out of file
// descriptors ends the apply instead (see exhausted): skipping each entry
// it could not open gave hundreds of warnings and no word of the limit.
// So does an entry not made because the file system is full, of bytes or
// of inodes, as a file's contents do (fileError); a metadata item that
// does not fit (ENOSPC from setxattr on ext4) is that entry's problem.
func (a *applier) warnPath(comps []string, skipped bool, err error) {
	if xerr := exhausted(err); xerr != nil {
		a.setFatal(fmt.Errorf("%s: %w", a.display(comps), xerr))
		return
	}
	if skipped && (errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT)) {
		a.setFatal(fmt.Errorf("%s: %w", a.display(comps), err))
		return
	}
	if skipped {
		a.skipped.Add(1)
	}
	if a.opts.Warn == nil {
		return
	}
	p := a.display(comps)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.opts.Warn(p, err)
}

func (a *applier) statsSnapshot() ApplyStats {
	return ApplyStats{Dirs: a.dirs.Load(), Files: a.files.Load(), Symlinks: a.symlinks.Load(),
		Special: a.special.Load(), Bytes: a.bytes.Load(), Skipped: a.skipped.Load(),
		Unchanged: a.unchanged.Load(), Fixed: a.fixed.Load(), Deleted: a.deleted.Load()}
}

// progress reports progress, if due, from the walking goroutine (or at
// the end, final), naming the path the walk is at.
func (a *applier) progress(final bool) {
	if a.opts.Progress == nil {
		return
	}
	a.progressMu.Lock()
	defer a.progressMu.Unlock()
	if !a.ticker.due(final) {
		return
	}
	a.shownPath = a.display(a.path)
	if final {
		a.shownBytes = 0 // the bytes of the files written, exactly
	}
	a.report()
}

// progressIdle reports progress, if due, from a goroutine of its own
// while the walk reports none: it waits for the workers, writing large
// files. It names the path of the walk's last report.
func (a *applier) progressIdle() {
	a.progressMu.Lock()
	defer a.progressMu.Unlock()
	if a.ticker.due(false) {
		a.report()
	}
}

// report calls Progress; progressMu is held. Its bytes never go back
// but in the final report: a file's bytes leave writing before bytes
// counts them, once it is closed, and a file that failed counts none.
func (a *applier) report() {
	st := a.statsSnapshot()
	a.shownBytes = max(a.shownBytes, st.Bytes+a.writing.Load())
	a.opts.Progress(Progress{Files: st.Files, Dirs: st.Dirs, Bytes: a.shownBytes, Skipped: st.Skipped,
		Path: a.shownPath})
}

// reportWhileIdle runs progressIdle every 250 ms until the returned
// function is called, which waits for it to stop.
func (a *applier) reportWhileIdle() (stop func()) {
	if a.opts.Progress == nil {
		return func() {}
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				a.progressIdle()
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}
