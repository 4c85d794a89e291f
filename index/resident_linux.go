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
