package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// gcPercent is the garbage collector's target for a large heap when GOGC
// is not set. What a snapshot holds is long-lived (the image tree, the new
// chunks and streams, the file signatures), so a target well below Go's
// 100 bounds the peak at little cost: a first snapshot of /usr peaked at
// 290, 230 and 214 MB with 100, 50 and 30, in the same time within the
// noise; later, with 30 and 20, at 180-184 and 171-176 MB (three
// alternating runs each, 25-31 s both), and a restore of it at 148-151
// and 143-146 MB (22-26 s both).
const gcPercent = 20

// gcSlack is the least a run may allocate between two collections. With
// gcPercent alone a small heap is collected every megabyte or two: an
// unchanged re-snapshot of a Debian tree (4 MB live) ran 11 collections,
// and took 78 ms (median of 10) against 65 ms with an 8 MB slack and one
// collection; a rollback of that tree took 74 ms against 62. With 16 MB it
// runs none: 33.5 -> 29.4 ms and 32.2 -> 27.9 ms (medians of 20
// alternating runs, CPU 44 -> 40 ms), its peak unchanged at 20 MB. A heap
// above gcSlack/gcPercent (80 MB) is unaffected, so large runs keep their
// peaks; a small run's peak grows by at most gcSlack (a restore of that
// tree: 33 MB with none, 40 with 8 MB, 46 with 16 MB; restic's is 73). See
// streamingGC for the commands that do without it.
const gcSlack = 16 << 20

// gcTuner keeps the collector's target at gcPercent of the live heap, but
// never below its slack of allocation. It re-tunes after every
// collection, from a cleanup attached to an object that only that
// collection frees.
type gcTuner struct {
	mu      sync.Mutex
	percent int    // the target for a large heap
	slack   uint64 // the least allocation between collections
	sample  []metrics.Sample
	last    int // the target last set
}

// tuner is the process's gcTuner; nil until tuneGC starts it (tests run
// commands without one).
var tuner atomic.Pointer[gcTuner]

// tuneGC starts a gcTuner for the life of the process.
func tuneGC() {
	t := &gcTuner{percent: gcPercent, slack: gcSlack,
		sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.tune()
	t.arm()
	tuner.Store(t)
}

// streamingGC drops the slack, for the commands that stream a WIM file
// (capture, apply): their live heap stays at a few megabytes and they
// run long enough that collecting it often costs nothing measurable,
// while the slack would add a seventh to their peak (20 MB to 23 in a
// capture of a Debian tree, in the same time).
func streamingGC() {
	if t := tuner.Load(); t != nil {
		t.mu.Lock()
		t.slack = 0
		t.mu.Unlock()
		t.tune()
	}
}

// arm attaches the next re-tuning to a fresh object, which the next
// collection finds unreachable.
func (t *gcTuner) arm() {
	p := new([16]byte) // not a tiny allocation, which may outlive a cycle
	runtime.AddCleanup(p, func(t *gcTuner) {
		t.tune()
		t.arm()
	}, t)
}

// tune sets the collector's target from the live heap of the last
// collection (none yet: as if nothing were live).
func (t *gcTuner) tune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	metrics.Read(t.sample)
	live := uint64(0)
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		live = t.sample[0].Value.Uint64()
	}
	p := percentFor(live, t.percent, t.slack)
	if p != t.last {
		debug.SetGCPercent(p)
		t.last = p
	}
}

// percentFor returns the GOGC value that lets a heap of live bytes grow by
// the larger of percent of itself and slack bytes before it is collected.
// A heap under 4 MB counts as 4 MB, the base of the runtime's own minimum
// target, so the first collection comes after slack bytes too.
func percentFor(live uint64, percent int, slack uint64) int {
	const floor = 4 << 20
	return max(percent, int(slack*100/max(live, floor)))
}
