//go:build unix

package snapshot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// A capture is two goroutines and the scanner's helpers. The scanner
// lists each directory and stats its entries, running ahead of the walk;
// the walk (capturer) turns what it finds into entries, reading or
// reusing file contents. Through an unchanged tree most system calls are
// the scanner's, so it hands the listing of directories it will reach
// soon to helpers (a scanJob each), which work beside it on other cores
// and keep a disk with a cold cache busy with several requests. The scan
// starts while CaptureOptions.Prepare (an incremental snapshot loading its
// parent) still runs.
//
// The scanner sends one dirScan per directory it descends into, in
// depth-first order with names sorted as in the image, which is the order
// the walk visits them. Which directories it descends into is its
// decision, recorded in each scanEntry (descend), and the walk follows it:
// it takes the next dirScan exactly when it meets an entry marked so.
// The scanner hands the walk its descriptor of each directory (a dirScan
// then has two holders, and the second to let go closes it), so that the
// walk need not open the directory again. While the walk holds
// keptDirsMax of them, the scanner closes each once the directories in it
// are opened, and the walk opens it again and checks that it is still the
// one scanned.

const (
	// scanBudgetEntries bounds the entries scanned but not yet taken by
	// the walk (about 200 bytes each); each dirScan waiting counts as
	// dirScanCost more, which bounds them in trees of empty directories.
	scanBudgetEntries = 1 << 16
	dirScanCost       = 4
	// scanQueue holds as many dirScans as the budget allows, so that the
	// scanner waits for the budget alone.
	scanQueue = scanBudgetEntries / dirScanCost
	// scanHelpers list directories ahead of the scanner; scanAhead bounds
	// the directories queued for them or listed and not yet reached, each
	// of which holds a descriptor (and its entries, outside the budget).
	scanHelpers = 3
	scanAhead   = 32
	// direntsBuf is each lister's getdents buffer.
	direntsBuf = 32 << 10
	// keptDirsMax bounds the descriptors handed to the walk and not yet
	// released (see keptDirs); a quarter of the process's limit on
	// descriptors bounds them too.
	keptDirsMax = 1024
)

// scanEntry is one name of a scanned directory.
type scanEntry struct {
	name    string
	st      unix.Stat_t
	err     error // of fstatat; st is then unset
	skip    bool  // excluded by the configuration or CaptureOptions.Skip
	descend bool  // a directory whose dirScan follows
	// dirEx is what the configuration decides for the entries of a
	// directory descended into, worked out from its parent's.
	dirEx dirExclusion
}

// dirScan is a directory as the scanner found it.
type dirScan struct {
	fd      int        // the scanner's descriptor of it, while it lists the children
	of      *scanEntry // the parent's entry for it (nil for the root)
	openErr error      // of opening or stat-ing it; nothing else is set
	st      unix.Stat_t
	foreign bool  // on another file system or mount: not listed unless CrossMounts
	readErr error // while listing; the names read before it are kept
	entries []scanEntry
	// holders counts who still needs fd, when it is handed to the walk
	// (walkFD); the last to let go closes it (release).
	holders atomic.Int32
	walkFD  bool
}

// release lets go of ds's descriptor; the last holder closes it.
func (ds *dirScan) release() {
	if ds.holders.Add(-1) == 0 {
		closeFD(ds.fd)
	}
}

// scanner is the state of the scanning goroutine.
type scanner struct {
	ctx    context.Context
	out    chan<- *dirScan
	budget *scanBudget
	lister
	jobs  chan *scanJob // to the helpers
	ahead int           // jobs queued or listed and not yet taken back
	kept  *keptDirs
}

// lister lists directories: the scanner has one, and each helper.
type lister struct {
	cfg     *Config
	skip    map[devIno]bool
	rootDev uint64
	rootMnt uint64 // see mountToCheck
	cross   bool
	quiet   quietOpener
	rel     []byte // the path of the directory listed, from the root
	dirents []byte
}

// scanJob is a directory to list: parent's entry e, whose parent
// directory is up's (nil: the root). Whoever claims it first lists it: a
// helper it was queued for, or the scanner when it reaches e. Its path is
// built from the chain of jobs when listed, not kept: the paths of a deep
// tree's ancestors together would grow with the square of its depth.
type scanJob struct {
	parent  int // the parent's descriptor, open until the job is taken back
	e       *scanEntry
	up      *scanJob
	claimed atomic.Bool
	done    chan struct{} // closed once a helper has listed it; nil if never queued
	ds      *dirScan
}

// startScan scans the tree below root, the open directory whose entry the
// capture has, on a new goroutine, and returns the channel of its
// dirScans, the root's first. Cancelling stop ends it early; the channel is
// closed when it ends, after its helpers.
func (c *capturer) startScan(root int, stop context.Context) <-chan *dirScan {
	ch := make(chan *dirScan, scanQueue)
	c.budget = newScanBudget()
	context.AfterFunc(stop, c.budget.stop)
	l := lister{cfg: c.cfg, skip: c.skip, rootDev: c.rootDev, rootMnt: c.rootMnt, cross: c.opts.CrossMounts}
	c.kept = newKeptDirs(c.opts.keptDirs)
	s := &scanner{ctx: stop, out: ch, budget: c.budget, lister: l, jobs: make(chan *scanJob, scanAhead), kept: c.kept}
	s.dirents = make([]byte, direntsBuf)
	var helpers sync.WaitGroup
	for range scanHelpers {
		helpers.Go(func() { l.help(s.jobs) })
	}
	go func() {
		defer close(ch)
		defer helpers.Wait()
		defer close(s.jobs)
		ds := &dirScan{fd: root} // Capture closes root
		s.read(ds)
		if s.budget.take(len(ds.entries) + dirScanCost) {
			s.send(ds, nil)
		}
	}()
	return ch
}

// help lists the directories of jobs that the scanner has not reached.
func (l lister) help(jobs <-chan *scanJob) {
	l.dirents = make([]byte, direntsBuf)
	for j := range jobs {
		if j.claimed.CompareAndSwap(false, true) {
			j.ds = l.list(j)
		}
		close(j.done)
	}
}

// appendRel appends the path of j's directory from the root to b.
func (j *scanJob) appendRel(b []byte) []byte {
	if j == nil {
		return b
	}
	b = j.up.appendRel(b)
	if len(b) > 0 {
		b = append(b, '/')
	}
	return append(b, j.e.name...)
}

// send hands ds, the directory of job (nil for the root), to the walk,
// then scans the directories it descends into. It reports false when the
// walk has stopped.
func (s *scanner) send(ds *dirScan, job *scanJob) bool {
	if ds.of != nil && ds.fd >= 0 {
		ds.holders.Store(1)
		if ds.openErr == nil && s.kept.take() {
			ds.walkFD = true
			ds.holders.Store(2)
		}
		defer ds.release()
	}
	select {
	case s.out <- ds:
	case <-s.ctx.Done():
		s.kept.give(ds) // the walk will not
		return false
	}
	var subs []*scanJob
	for i := range ds.entries {
		if e := &ds.entries[i]; e.descend {
			subs = append(subs, &scanJob{parent: ds.fd, e: e, up: job})
		}
	}
	for i, j := range subs {
		s.queue(subs[i+1:])
		sub := s.takeBack(j)
		if !s.budget.take(len(sub.entries) + dirScanCost) {
			closeFD(sub.fd)
			s.settle(subs[i+1:])
			return false
		}
		if !s.send(sub, j) {
			s.settle(subs[i+1:])
			return false
		}
	}
	return true
}

// queue hands the first jobs of subs that are not queued yet to the
// helpers, while fewer than scanAhead are ahead.
func (s *scanner) queue(subs []*scanJob) {
	for _, j := range subs {
		if s.ahead >= scanAhead {
			return
		}
		if j.done != nil {
			continue
		}
		j.done = make(chan struct{})
		select {
		case s.jobs <- j:
			s.ahead++
		default: // jobs taken back before a helper saw them fill it
			j.done = nil
			return
		}
	}
}

// takeBack returns j's directory, listing it here unless a helper has
// claimed it (then waiting for it).
func (s *scanner) takeBack(j *scanJob) *dirScan {
	if j.done != nil {
		s.ahead--
	}
	if j.claimed.CompareAndSwap(false, true) {
		return s.list(j)
	}
	<-j.done
	return j.ds
}

// settle takes back the jobs the scanner will not reach, since the walk
// stopped, closing what the helpers opened: their parent closes next.
func (s *scanner) settle(subs []*scanJob) {
	for _, j := range subs {
		if j.done == nil {
			continue
		}
		s.ahead--
		if j.claimed.CompareAndSwap(false, true) {
			continue
		}
		<-j.done
		if j.ds.fd >= 0 {
			closeFD(j.ds.fd)
		}
	}
}

// list opens and lists j's directory.
func (l *lister) list(j *scanJob) *dirScan {
	l.rel = j.appendRel(l.rel[:0])
	ds := &dirScan{fd: -1, of: j.e}
	fd, err := l.quiet.openDir(j.parent, j.e.name, true)
	if err != nil {
		ds.openErr = fmt.Errorf("open directory: %w", replacedDir(err))
		return ds
	}
	ds.fd = fd // send closes it
	if err := fstat(fd, &ds.st); err != nil {
		ds.openErr = fmt.Errorf("stat: %w", err)
		return ds
	}
	if !l.cross && (ds.st.Dev != l.rootDev || otherMount(fd, l.rootMnt)) {
		ds.foreign = true
		return ds
	}
	l.read(ds)
	return ds
}

// read lists the directory ds.fd, whose path is l.rel, into ds and stats
// its entries.
func (l *lister) read(ds *dirScan) {
	fd := ds.fd
	names, err := readDirNames(fd, l.dirents)
	ds.readErr = err
	slices.SortFunc(names, wim.CompareNames)
	ds.entries = make([]scanEntry, len(names))
	relLen := len(l.rel)
	var dirEx dirExclusion // the root's
	if ds.of != nil {
		dirEx = ds.of.dirEx
	}
	for i, name := range names {
		e := &ds.entries[i]
		e.name = name
		if e.err = fstatat(fd, name, &e.st, unix.AT_SYMLINK_NOFOLLOW); e.err != nil {
			continue
		}
		l.setRel(relLen, name)
		isDir := e.st.Mode&unix.S_IFMT == unix.S_IFDIR
		rel := unsafe.String(unsafe.SliceData(l.rel), len(l.rel)) // excludedIn keeps no reference
		e.skip = l.skip[devIno{e.st.Dev, e.st.Ino}] || l.cfg.excludedIn(dirEx, rel, isDir)
		e.descend = isDir && !e.skip
		if e.descend {
			e.dirEx = l.cfg.dirExclusionIn(dirEx, rel)
		}
	}
	l.rel = l.rel[:relLen]
}

func (l *lister) setRel(relLen int, name string) {
	l.rel = l.rel[:relLen]
	if relLen > 0 {
		l.rel = append(l.rel, '/')
	}
	l.rel = append(l.rel, name...)
}

// nextScan takes the walk's next dirScan.
func (c *capturer) nextScan() (*dirScan, error) {
	select {
	case ds, ok := <-c.scans:
		if !ok {
			if err := c.ctx.Err(); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("internal error: the directory scan ended early at %s", c.displayPath())
		}
		c.budget.give(len(ds.entries) + dirScanCost)
		return ds, nil
	case <-c.ctx.Done():
		return nil, c.ctx.Err()
	}
}

// scanBudget counts the entries scanned and not yet taken by the walk.
type scanBudget struct {
	mu      sync.Mutex
	cond    sync.Cond
	used    int
	wakeAt  int // the scanner waits for used to drop to this; -1 if it is not waiting
	stopped bool
}

func newScanBudget() *scanBudget {
	b := &scanBudget{wakeAt: -1}
	b.cond.L = &b.mu
	return b
}

// take waits until n more entries fit and counts them; it reports false
// once stopped. When they do not fit, it waits for the walk to take half
// the budget (all of it, for a directory larger than half), so that
// through a large tree the scanner and the walk run in bursts rather than
// waking each other for every directory.
func (b *scanBudget) take(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used > 0 && b.used+n > scanBudgetEntries {
		b.wakeAt = max(min(scanBudgetEntries/2, scanBudgetEntries-n), 0)
		for !b.stopped && b.used > b.wakeAt {
			b.cond.Wait()
		}
		b.wakeAt = -1
	}
	b.used += n
	return !b.stopped
}

func (b *scanBudget) give(n int) {
	b.mu.Lock()
	b.used -= n
	wake := b.used <= b.wakeAt
	b.mu.Unlock()
	if wake {
		b.cond.Broadcast()
	}
}

func (b *scanBudget) stop() {
	b.mu.Lock()
	b.stopped = true
	b.mu.Unlock()
	b.cond.Broadcast()
}

// drainScan waits for the scanner to end (once its stop context is
// cancelled it ends at its next dirScan), so that the root's descriptor
// can be closed.
func drainScan(ch <-chan *dirScan, kept *keptDirs) {
	for ds := range ch {
		kept.give(ds)
	}
}

// keptDirs counts the descriptors the scanner has handed to the walk
// (dirScan.walkFD) and the walk has not released.
type keptDirs struct {
	n   atomic.Int32
	max int32
}

// newKeptDirs allows keptDirsMax descriptors, or a quarter of the
// process's limit if that is fewer, or override if not 0 (see
// CaptureOptions.keptDirs).
func newKeptDirs(override int) *keptDirs {
	k := &keptDirs{max: keptDirsMax}
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && rl.Cur/4 < keptDirsMax {
		k.max = int32(rl.Cur / 4)
	}
	if override != 0 {
		k.max = int32(max(override, 0))
	}
	return k
}

// take counts one more kept descriptor and reports true, or false when
// there are as many as allowed.
func (k *keptDirs) take() bool {
	if k.n.Add(1) > k.max {
		k.n.Add(-1)
		return false
	}
	return true
}

// give releases the walk's hold on ds's descriptor, if it has one.
func (k *keptDirs) give(ds *dirScan) {
	if ds.walkFD {
		ds.walkFD = false
		k.n.Add(-1)
		ds.release()
	}
}

// replacedDir names the error of opening, without following, what the
// scan saw as a directory: ENOTDIR or ELOOP mean that something else (a
// file, a symlink) has taken its name since.
func replacedDir(err error) error {
	if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
		return fmt.Errorf("directory was replaced during capture (%w)", err)
	}
	return err
}
