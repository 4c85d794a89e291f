//go:build !linux

package index

// dropResident does nothing where madvise is not used (see the Linux one).
func dropResident(uintptr, int64) {}

// readAhead does nothing where madvise is not used (see the Linux one).
func readAhead(uintptr, int64) {}
