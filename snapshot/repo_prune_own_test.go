//go:build unix

package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestPruneRetiresRunningSnapshotObject: a prune that reads a running
// snapshot's own index object (stored, its manifest not yet) retires it
// whole; the snapshot, finding its object gone once its manifest is
// stored, names what it holds again under a new key. The repository then
// checks on another machine, whether the prune ends normally or its wait
// runs out, also when the prune deleted nothing its local index read (the
// index already a prune's output) and when its object names a pack that
// nothing uses (a file truncated while it was read). The object was stored
// again under its old key, which the prune took for one it knew, and the
// pack it named deleted; or it was not named again at all.
func TestPruneRetiresRunningSnapshotObject(t *testing.T) {
	for _, tc := range []struct{ pruned, waitOut bool }{{false, false}, {true, false}, {true, true}} {
		t.Run(fmt.Sprintf("pruned=%v,waitOut=%v", tc.pruned, tc.waitOut), func(t *testing.T) {
			tmp := t.TempDir()
			store, open := machines(t, tmp)
			src, other := filepath.Join(tmp, "src"), filepath.Join(tmp, "other")
			writeFiles(t, src, map[string]string{"a.txt": "first"})
			writeTestFile(t, filepath.Join(src, "big.bin"), wimtest.RandomBytes(3, 40<<20))
			writeFiles(t, other, map[string]string{"o.txt": "forgotten"})
			ra := open(store, "a")
			gone := snapshotOK(t, ra, other, TakeOptions{}).Manifest
			if _, err := ra.Forget(t.Context(), []*Manifest{gone}, LockOptions{}); err != nil {
				t.Fatal(err)
			}
			if tc.pruned {
				pruneOK(t, ra, PruneOptions{})
			}
			gate := &gateStore{Store: store, prefix: snapPrefix, reached: make(chan struct{}), release: make(chan struct{})}
			rb := open(gate, "a")
			done := make(chan error)
			go func() {
				opts := TakeOptions{Host: "h"}
				opts.Capture.afterOpen = func(p string) {
					if filepath.Base(p) == "big.bin" { // its stream is dropped, its own pack stays
						_ = os.Truncate(filepath.Join(src, "big.bin"), 17<<20)
					}
				}
				opts.Capture.Warn = func(string, error) {}
				_, err := rb.Snapshot(t.Context(), src, opts)
				done <- err
			}()
			<-gate.reached
			popts := PruneOptions{Lock: LockOptions{Sleep: func(context.Context, time.Duration) error {
				time.Sleep(10 * time.Millisecond)
				return nil
			}}}
			released := false
			popts.Warn = func(err error) {
				if strings.Contains(err.Error(), "waiting up to") && !released {
					released = true
					close(gate.release)
				}
			}
			if tc.waitOut {
				popts.Wait = time.Nanosecond
			}
			if _, err := open(store, "p").Prune(t.Context(), popts); err != nil {
				t.Fatal(err)
			}
			if !released {
				close(gate.release)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			checkOK(t, open(store, "fresh"))
		})
	}
}
