package main

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
)

const (
	// writebackStep is how many written bytes writebackFile lets gather
	// before it asks the kernel to start writing them out.
	writebackStep = 2 << 20
	// backgroundSyncStep is how many written bytes writebackFile lets
	// gather before it syncs the file on a goroutine of its own.
	backgroundSyncStep = 16 << 20
)

// writebackFile is a new file written mostly from start to end that gets
// to the disk while it is written, so that the fsync that commits it waits
// only for its last few MiB. It starts the writeback of every writebackStep
// bytes written (startWriteback) and, every backgroundSyncStep bytes, syncs
// the file on another goroutine, at most one sync at a time: on a virtual
// disk the host's cache flush, not the guest's writeback, took most of the
// final fsync. A capture of 190 MiB into a 95 MiB WIM spent 90 ms, 8% of its
// time, in that fsync with both cores idle; it takes under 10 ms now.
//
// Durability still comes from the caller's fsync after settle: a sync here
// may consume a write error that the kernel then no longer reports to the
// caller's fsync, so settle returns it. Its other methods are the file's.
type writebackFile struct {
	*os.File
	off    int64 // offset of the next Write
	sent   int64 // the bytes before it have had their writeback started
	synced int64 // the bytes before it have had a background sync started

	busy atomic.Bool
	bg   sync.WaitGroup
	err  error // first error of a background sync, set before bg.Done
}

// Write writes p at the current offset, then starts writeback or a
// background sync of what was written since the last one when due.
func (f *writebackFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.off += int64(n)
	if f.off-f.sent >= writebackStep {
		startWriteback(f.File, f.sent, f.off-f.sent)
		f.sent = f.off
	}
	if f.off-f.synced >= backgroundSyncStep && f.busy.CompareAndSwap(false, true) {
		f.synced = f.off
		f.bg.Add(1)
		go f.backgroundSync()
	}
	return n, err
}

func (f *writebackFile) backgroundSync() {
	defer f.bg.Done()
	if err := f.Sync(); err != nil && f.err == nil {
		f.err = err
	}
	f.busy.Store(false)
}

// Seek moves the offset of the next Write. Bytes written behind sent (a
// header rewritten at offset 0) are left to the final fsync.
func (f *writebackFile) Seek(offset int64, whence int) (int64, error) {
	off, err := f.File.Seek(offset, whence)
	if err == nil {
		f.off = off
	}
	return off, err
}

// settle waits for the background sync, if any, and returns the first
// error a background sync met. Call it before the file's final fsync or
// its Close, and after the last Write.
func (f *writebackFile) settle() error {
	f.bg.Wait()
	return f.err
}

// commit settles f, then makes its file durable at target with commit
// (commitTemp or commitNewTemp).
func (f *writebackFile) commit(target string, commit func(*os.File, string) error) error {
	if err := f.settle(); err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	return commit(f.File, target)
}

// discard settles f, then closes and removes its file (discardTemp).
func (f *writebackFile) discard() {
	_ = f.settle()
	discardTemp(f.File)
}
