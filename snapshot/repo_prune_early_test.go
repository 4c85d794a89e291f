//go:build unix

package snapshot

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestPruneSnapshotCommittedInStep1: a snapshot that commits during
// prune's step 1, after the prune read the manifests and before it
// deleted the index objects it read, deduplicating against data only a
// forgotten snapshot used, finds no index object gone and names nothing
// again. The prune puts that data back before its wait: when the wait
// then runs out (or the prune is stopped), the snapshot still checks and
// restores on a machine that reads the repository afresh. It did not until
// the next prune.
func TestPruneSnapshotCommittedInStep1(t *testing.T) {
	tmp := t.TempDir()
	store, open := machines(t, tmp)
	src := filepath.Join(tmp, "src")
	must(t, os.MkdirAll(src, 0o755))
	gone := wimtest.RandomBytes(3, 1<<20)
	writeTestFile(t, filepath.Join(src, "gone.bin"), gone)
	writeFiles(t, src, map[string]string{"a.txt": "kept"})
	ra := open(store, "a")
	parent := snapshotOK(t, ra, src, TakeOptions{}).Manifest
	if _, err := ra.Forget(t.Context(), []*Manifest{parent}, LockOptions{}); err != nil {
		t.Fatal(err)
	}
	must(t, os.Remove(filepath.Join(src, "gone.bin")))
	writeTestFile(t, filepath.Join(src, "copy.bin"), append(bytes.Clone(gone), "suffix"...))

	// A restore elsewhere holds a lock older than the prune's new index,
	// so that the prune's wait runs out.
	held, err := open(store, "h").LockShared(t.Context(), LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = held.Unlock(t.Context()) }()
	gate := &gateStore{Store: store, prefix: retiredPrefix, reached: make(chan struct{}), release: make(chan struct{})}
	rp := open(gate, "p")
	type outcome struct {
		res PruneResult
		err error
	}
	done := make(chan outcome)
	go func() {
		res, err := rp.Prune(t.Context(), PruneOptions{Wait: time.Nanosecond, Warn: func(error) {}})
		done <- outcome{res, err}
	}()
	<-gate.reached // step 1 read the manifests and writes the retired objects
	snap := snapshotOK(t, ra, src, TakeOptions{}).Manifest
	close(gate.release)
	out := <-done
	if out.err != nil {
		t.Fatal(out.err)
	}
	if out.res.PendingWhy == "" || out.res.PacksDeleted != 0 || out.res.KeptForRunning == 0 {
		t.Errorf("prune: %+v; want its wait run out, nothing deleted, the snapshot's data put back", out.res)
	}
	fresh := open(store, "fresh")
	checkOK(t, fresh)
	target := filepath.Join(tmp, "out")
	if _, err := fresh.Restore(t.Context(), snap, target, RestoreOptions{}); err != nil {
		t.Fatalf("restore before the next prune: %v", err)
	}
	wimtest.CompareTrees(t, src, target, wimtest.CompareOptions{})
}
