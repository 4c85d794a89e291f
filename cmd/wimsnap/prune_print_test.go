package main

import (
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/snapshot"
)

// TestPrintPruneGrew: a prune that repacked and left the old packs for a
// later prune ends with a larger repository; the summary says so instead
// of "freed 0 B".
func TestPrintPruneGrew(t *testing.T) {
	for _, tc := range []struct {
		freed int64
		want  string
	}{
		{3 << 20, "freed 3.0 MiB"},
		{-3 << 20, "the repository grew by 3.0 MiB until a later prune"},
	} {
		a, out, _ := testApp(nil)
		a.printPrune(pruneSummary{Repository: "r", PruneResult: snapshot.PruneResult{PacksRepacked: 2, PacksWritten: 1, BytesFreed: tc.freed}})
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("bytes freed %d: %q, want %q in it", tc.freed, out.String(), tc.want)
		}
	}
}
