package index

import "golang.org/x/sys/unix"

// dropResident takes the pages of the database's file mapping, addr and
// size bytes, out of the process's resident set (MADV_DONTNEED). bbolt
// maps the file read-only and shared, so they stay in the page cache and
// the next access maps them again, with the same bytes; dropping them
// only keeps a long walk of lookups from holding every page it touched
// (and the kernel's fault-around neighbours) mapped at once.
func dropResident(addr uintptr, size int64) {
	if addr != 0 && size > 0 {
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, addr, uintptr(size), unix.MADV_DONTNEED)
	}
}

// readAhead asks the kernel to read the database's file mapping, addr and
// size bytes, into the page cache (MADV_WILLNEED, which starts the reads
// of a file mapping and maps nothing). The kernel reads no more than its
// readahead window per call (128 KiB by default), so the mapping is asked
// for in windows of that size. A failure only leaves the reads to the
// lookups.
func readAhead(addr uintptr, size int64) {
	if addr == 0 {
		return
	}
	for off := int64(0); off < size; off += readAheadWindow {
		n := min(size-off, readAheadWindow)
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, addr+uintptr(off), uintptr(n), unix.MADV_WILLNEED)
	}
}

// readAheadWindow is the kernel's default readahead window, the most a
// MADV_WILLNEED call reads.
const readAheadWindow = 128 << 10
