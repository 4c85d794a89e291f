package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// TestAdviseHuge: the whole huge pages of a slice get MADV_HUGEPAGE (the
// "hg" flag of their mapping in /proc/self/smaps), and slices holding no
// whole huge page are left alone without a fault.
func TestAdviseHuge(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage"); err != nil {
		t.Skip("no transparent huge pages here")
	}
	adviseHuge(nil)
	adviseHuge(make([]byte, 100))
	b := make([]byte, 3*hugePageSize)
	adviseHuge(b)
	addr := uintptr(unsafe.Pointer(&b[0]))
	inside := (addr + hugePageSize - 1) &^ (hugePageSize - 1)
	if !strings.Contains(vmFlags(t, inside), " hg") {
		t.Errorf("the mapping at %#x has no hg flag after adviseHuge", inside)
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
