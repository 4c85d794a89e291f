package main

import (
	"fmt"
	"sync/atomic"
)

// integrityTracker is the status line source of a command that writes an
// integrity table after (or, for split, after each part of) its main
// work, counted by main: from the first report of the hashing, which
// reads the whole file again, it shows that with its own count and rate,
// until resume goes back to main. main keeps its own count, which the
// command may report at the end.
type integrityTracker struct {
	main *verifyTracker
	hash verifyTracker
	on   atomic.Bool // the hashing is shown
}

func newIntegrityTracker(main *verifyTracker) *integrityTracker {
	return &integrityTracker{main: main, hash: verifyTracker{now: main.now}}
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
