package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestAdviseHuge: the whole huge pages inside a slice get MADV_HUGEPAGE
// (the "hg" flag of their mapping in /proc/self/smaps) and the part of a
// huge page it holds does not; slices holding no whole huge page are
// passed over. The memory is mapped here, not taken from the heap, which
// an earlier test's snapshot may have advised already.
func TestAdviseHuge(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage"); err != nil {
		t.Skip("no transparent huge pages here")
	}
	adviseHuge(nil)
	adviseHuge(make([]byte, 100))
	m, err := unix.Mmap(-1, 0, 5*hugePageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Munmap(m) }()
	base := uintptr(unsafe.Pointer(&m[0]))
	first := int((base+hugePageSize-1)&^(hugePageSize-1) - base) // m[first:] starts a huge page
	b := m[first+4096 : first+4096+3*hugePageSize]               // holds two whole huge pages
	adviseHuge(b)
	at := func(i int) uintptr { return base + uintptr(first+i*hugePageSize) }
	if !strings.Contains(vmFlags(t, at(1)), " hg") || !strings.Contains(vmFlags(t, at(2)), " hg") {
		t.Errorf("the huge pages inside the slice lack the hg flag")
	}
	if strings.Contains(vmFlags(t, at(0)+4096), " hg") {
		t.Errorf("the huge page the slice starts inside has the hg flag")
	}
}

// vmFlags returns the VmFlags line of the mapping holding addr.
func vmFlags(t *testing.T, addr uintptr) string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer func() { _ = f.Close() }()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 {
			in = lo <= addr && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return line
		}
	}
	t.Fatalf("no mapping holds %#x", addr)
	return ""
}
