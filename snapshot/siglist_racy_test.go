package snapshot

import (
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/index"
)

// TestRacy: a signature whose modification time is whole seconds and at
// or after the racy bound is racy, in the platform's clock; one of finer
// times, or older, is not. racySig matches no signature.
func TestRacy(t *testing.T) {
	start := time.Date(2026, 12, 7, 5, 0, 0, 500_000_000, time.UTC)
	from := racyFrom(start)
	whole := racyFrom(start.Add(racyWindow).Truncate(time.Second)) // the second the snapshot began in
	if whole < from {
		t.Fatalf("the snapshot's second %d is before the bound %d", whole, from)
	}
	sig := func(mtime int64) index.Sig { return index.Sig{Size: 10, MtimeNs: mtime, CtimeNs: mtime} }
	if !racy(sig(whole), from) {
		t.Error("a whole-second time in the snapshot's second is not racy")
	}
	if racy(sig(whole+1), from) {
		t.Error("a time of finer grain is racy")
	}
	if old := racyFrom(start.Add(-time.Hour).Truncate(time.Second)); racy(sig(old), from) {
		t.Error("a whole-second time an hour before is racy")
	}
	if s := sig(whole); racySig(s) == s || racySig(s).Size >= 0 {
		t.Errorf("racySig(%+v) = %+v", s, racySig(s))
	}
}
