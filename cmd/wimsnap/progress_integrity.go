package main

import (
	"fmt"
	"sync/atomic"
	"time"
)

// integrityTracker is the status line source of a command that writes an
// integrity table after (or, for split, after each part of) its main
// work, shown by main: from the first report of the hashing, which reads
// the whole file again, it shows that with its own count and rate, until
// resume goes back to main. main keeps its own count, which the command
// may report at the end.
type integrityTracker struct {
	main renderer
	hash verifyTracker
	on   atomic.Bool // the hashing is shown
}

// renderer is a status line source: a tracker of the main work.
type renderer interface{ render() string }

// newIntegrityTracker returns the tracker showing main, and the hashing
// of the integrity table timed by now.
func newIntegrityTracker(main renderer, now func() time.Time) *integrityTracker {
	return &integrityTracker{main: main, hash: verifyTracker{now: now}}
}

// update has the signature of wim.WithIntegrityProgress's function.
func (t *integrityTracker) update(done, total int64) {
	t.updatePart(0, done, total)
}

// updatePart is update for part of a split WIM (0: not split), which the
// status line names; it has the signature of
// wim.WithSplitIntegrityProgress's function.
func (t *integrityTracker) updatePart(part int, done, total int64) {
	if done == 0 {
		verb := "writing integrity table"
		if part > 0 {
			verb = fmt.Sprintf("writing integrity table of part %d", part)
		}
		t.hash.restart(verb)
		t.on.Store(true)
	}
	t.hash.update(done, total)
}

// resume shows main again.
func (t *integrityTracker) resume() { t.on.Store(false) }

func (t *integrityTracker) render() string {
	if t.on.Load() {
		return t.hash.render()
	}
	return t.main.render()
}

// captureStatus is the status line source of capture and append: the
// walk's counts, then the hashing of the integrity table, when the WIM
// gets one, which reads the whole WIM again after the walk.
type captureStatus struct {
	walk *tracker
	*integrityTracker
}

func newCaptureStatus(now func() time.Time) *captureStatus {
	walk := newTracker("capturing", now)
	return &captureStatus{walk: walk, integrityTracker: newIntegrityTracker(walk, now)}
}
