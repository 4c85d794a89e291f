package wim

import (
	"os"
	"regexp"
	"strconv"
	"testing"
)

// TestMakeFuzzMinimizeByCount checks that make fuzz bounds the shrinking
// of new inputs by a count of calls: shrinking an input of a few KiB (the
// seeds of FuzzReader are WIM files) never ends before a time limit, and
// the workers wait meanwhile, so a limit in seconds, paid for each seed's
// first new mutant, took the whole FUZZTIME of the target.
func TestMakeFuzzMinimizeByCount(t *testing.T) {
	b, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^FUZZMINIMIZETIME \?= (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no FUZZMINIMIZETIME default in the Makefile")
	}
	v := string(m[1])
	n, err := strconv.Atoi(v[:len(v)-1])
	if v[len(v)-1] != 'x' || err != nil || n > 5000 {
		t.Fatalf("FUZZMINIMIZETIME ?= %s: want a count of at most 5000 calls, as 1000x", v)
	}
}
