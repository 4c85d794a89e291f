package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// This file gives the heap of the commands that build large trees in
// memory (snapshot, restore) transparent huge pages where the system
// offers them. Such a run touches a few thousand fresh 4 KiB pages of
// heap, one page fault each. In a virtual machine a fault costs several
// microseconds (10 where the bench runs: a fifth of an unchanged
// snapshot's CPU time); one fault of a 2 MiB huge page replaces 512 of
// them.
//
// Go maps its heap in pieces as it grows and advises none of them, so
// hugeHeap grows it first: it allocates hugeHeapBytes, which the runtime
// maps without touching, advises that mapping (adviseHuge), and frees it
// with one collection. The allocations that follow reuse the advised
// memory; those beyond it get ordinary pages, as before. The costs: RSS
// rounded up to whole huge pages (about 2 MiB more at the peak of a
// capture of a Debian tree, which is why capture and apply, whose peak is
// one of their goals, do not call it), and, where memory is fragmented,
// the kernel compacting it to make a huge page (transparent_hugepage/defrag
// "madvise", its default) or falling back to small ones.
// GODEBUG=disablethp=1, the runtime's own switch for huge pages, turns it
// off.

// hugeHeapBytes is how far hugeHeap grows the heap: more than an
// unchanged snapshot or a rollback of a Debian tree (7,000 files)
// allocates in all; a larger run gets huge pages for that much of it.
const hugeHeapBytes = 32 << 20

// hugePageSize is the size of a transparent huge page on amd64 and on
// arm64 with 4 KiB pages; where it is larger, no 2 MiB span is a huge
// page and the advice changes nothing.
const hugePageSize = 2 << 20

var hugeHeapOnce sync.Once

// hugeHeap prepares the heap, once per process; see above.
func hugeHeap() {
	hugeHeapOnce.Do(func() {
		if strings.Contains(os.Getenv("GODEBUG"), "disablethp=1") {
			return
		}
		// Allocating that much would start a collection, and the one
		// that frees it a second; each costs its sweep a few hundred
		// page faults of the runtime's own (its span sets).
		percent := debug.SetGCPercent(-1)
		growAdvised(hugeHeapBytes)
		debug.SetGCPercent(percent)
		runtime.GC() // frees what growAdvised allocated
	})
}

// growAdvised allocates n bytes, advises them (adviseHuge) and drops
// them; it is a function of its own so that nothing refers to them once
// it returns.
//
//go:noinline
func growAdvised(n int) {
	adviseHuge(make([]byte, n))
}

// adviseHuge asks the kernel to back the whole huge pages inside b with
// huge pages when they are first touched (MADV_HUGEPAGE). It is a hint:
// a kernel without them, or with them off, leaves b as it was.
func adviseHuge(b []byte) {
	off := int(-uintptr(unsafe.Pointer(unsafe.SliceData(b))) & (hugePageSize - 1))
	if off >= len(b) {
		return
	}
	if n := (len(b) - off) &^ (hugePageSize - 1); n > 0 {
		_ = unix.Madvise(b[off:off+n], unix.MADV_HUGEPAGE)
	}
}
