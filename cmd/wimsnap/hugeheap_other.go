//go:build !linux

package main

// hugeHeap does nothing where transparent huge pages are not offered
// through madvise (see hugeheap_linux.go).
func hugeHeap() {}
