//go:build unix

package snapshot

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// A capture is two goroutines. The scanner lists each directory and stats
// its entries, running ahead of the walk; the walk (capturer) turns what it
// finds into entries, reading or reusing file contents. Through an
// unchanged tree most system calls are the scanner's, so on two cores they
// cost the walk little, and the scan starts while CaptureOptions.Prepare
// (an incremental snapshot loading its parent) still runs.
//
// The scanner sends one dirScan per directory it descends into, in
// depth-first order with names sorted as in the image, which is the order
// the walk visits them. Which directories it descends into is its
// decision, recorded in each scanEntry (descend), and the walk follows it:
// it takes the next dirScan exactly when it meets an entry marked so.
// The scanner closes each directory once it has opened the directories
// in it; the walk opens it again and checks that it is still the one
// scanned.

const (
	// scanBudgetEntries bounds the entries scanned but not yet taken by
	// the walk (about 200 bytes each); each dirScan waiting counts as
	// dirScanCost more, which bounds them in trees of empty directories.
	scanBudgetEntries = 1 << 16
	dirScanCost       = 4
	// scanQueue holds as many dirScans as the budget allows, so that the
	// scanner waits for the budget alone.
	scanQueue = scanBudgetEntries / dirScanCost
)

// scanEntry is one name of a scanned directory.
type scanEntry struct {
	name    string
	st      unix.Stat_t
	err     error // of fstatat; st is then unset
	skip    bool  // excluded by the configuration or CaptureOptions.Skip
	descend bool  // a directory whose dirScan follows
}

// dirScan is a directory as the scanner found it.
type dirScan struct {
	fd      int        // the scanner's descriptor of it, while it lists the children
	of      *scanEntry // the parent's entry for it (nil for the root)
	openErr error      // of opening or stat-ing it; nothing else is set
	st      unix.Stat_t
	foreign bool  // on another file system: not listed unless CrossMounts
	readErr error // while listing; the names read before it are kept
	entries []scanEntry
}

// scanner is the state of the scanning goroutine.
type scanner struct {
	ctx     context.Context
	out     chan<- *dirScan
	budget  *scanBudget
	cfg     *Config
	skip    map[devIno]bool
	rootDev uint64
	cross   bool
	quiet   quietOpener
	rel     []byte
	dirents []byte
}

// startScan scans the tree below root, the open directory whose entry the
// capture has, on a new goroutine, and returns the channel of its
// dirScans, the root's first. Cancelling stop ends it early; the channel is
// closed when it ends.
func (c *capturer) startScan(root int, stop context.Context) <-chan *dirScan {
	ch := make(chan *dirScan, scanQueue)
	c.budget = newScanBudget()
	context.AfterFunc(stop, c.budget.stop)
	s := &scanner{ctx: stop, out: ch, budget: c.budget, cfg: c.cfg, skip: c.skip, rootDev: c.rootDev,
		cross: c.opts.CrossMounts, dirents: make([]byte, 64<<10)}
	go func() {
		defer close(ch)
		ds := &dirScan{fd: root} // Capture closes root
		if s.read(ds) {
			s.send(ds)
		}
	}()
	return ch
}

// send hands ds to the walk, then scans the directories it descends into.
// It reports false when the walk has stopped.
func (s *scanner) send(ds *dirScan) bool {
	if ds.of != nil && ds.fd >= 0 {
		defer closeFD(ds.fd)
	}
	select {
	case s.out <- ds:
	case <-s.ctx.Done():
		return false
	}
	relLen := len(s.rel)
	defer func() { s.rel = s.rel[:relLen] }()
	for i := range ds.entries {
		e := &ds.entries[i]
		if !e.descend {
			continue
		}
		s.setRel(relLen, e.name)
		sub, ok := s.subdir(ds, e)
		if !ok {
			closeFD(sub.fd)
			return false
		}
		if !s.send(sub) {
			return false
		}
	}
	return true
}

// subdir opens and lists the directory of e, an entry of parent; it
// reports false when the walk has stopped.
func (s *scanner) subdir(parent *dirScan, e *scanEntry) (*dirScan, bool) {
	ds := &dirScan{fd: -1, of: e}
	fd, err := s.quiet.openDir(parent.fd, e.name, true)
	if err != nil {
		ds.openErr = fmt.Errorf("open directory: %w", err)
		return ds, s.budget.take(dirScanCost)
	}
	ds.fd = fd // send closes it
	if err := fstat(fd, &ds.st); err != nil {
		ds.openErr = fmt.Errorf("stat: %w", err)
		return ds, s.budget.take(dirScanCost)
	}
	if ds.st.Dev != s.rootDev && !s.cross {
		ds.foreign = true
		return ds, s.budget.take(dirScanCost)
	}
	return ds, s.read(ds)
}

// read lists the directory ds.fd, whose path is s.rel, into ds and stats
// its entries; it reports false when the walk has stopped.
func (s *scanner) read(ds *dirScan) bool {
	fd := ds.fd
	names, err := readDirNames(fd, s.dirents)
	ds.readErr = err
	if !s.budget.take(len(names) + dirScanCost) {
		return false
	}
	slices.SortFunc(names, wim.CompareNames)
	ds.entries = make([]scanEntry, len(names))
	relLen := len(s.rel)
	dirEx := s.cfg.dirExclusion(string(s.rel))
	for i, name := range names {
		e := &ds.entries[i]
		e.name = name
		if e.err = fstatat(fd, name, &e.st, unix.AT_SYMLINK_NOFOLLOW); e.err != nil {
			continue
		}
		s.setRel(relLen, name)
		isDir := e.st.Mode&unix.S_IFMT == unix.S_IFDIR
		rel := unsafe.String(unsafe.SliceData(s.rel), len(s.rel)) // excludedIn keeps no reference
		e.skip = s.skip[devIno{e.st.Dev, e.st.Ino}] || s.cfg.excludedIn(dirEx, rel, isDir)
		e.descend = isDir && !e.skip
	}
	s.rel = s.rel[:relLen]
	return true
}

func (s *scanner) setRel(relLen int, name string) {
	s.rel = s.rel[:relLen]
	if relLen > 0 {
		s.rel = append(s.rel, '/')
	}
	s.rel = append(s.rel, name...)
}

// nextScan takes the walk's next dirScan.
func (c *capturer) nextScan() (*dirScan, error) {
	select {
	case ds, ok := <-c.scans:
		if !ok {
			if err := c.ctx.Err(); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("snapshot: internal error: the directory scan ended early at %s", c.displayPath())
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
func drainScan(ch <-chan *dirScan) {
	for range ch {
	}
}
