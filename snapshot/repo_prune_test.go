package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// pruneOK prunes r and fails the test on an error or a warning.
func pruneOK(t *testing.T, r *Repo, opts PruneOptions) PruneResult {
	t.Helper()
	opts.Warn = func(err error) { t.Errorf("prune warning: %v", err) }
	res, err := r.Prune(t.Context(), opts)
	if err != nil {
		t.Fatalf("prune: %v", err)
	}
	t.Logf("prune: %+v", res)
	return res
}

// checkOK runs check --read-data and fails the test on any problem.
func checkOK(t *testing.T, r *Repo) CheckResult {
	t.Helper()
	res, err := r.Check(t.Context(), CheckOptions{ReadData: true})
	if err != nil || len(res.Problems) > 0 {
		t.Fatalf("check: %v %q", err, res.Problems)
	}
	return res
}

// TestPruneFreesForgotten: after forgetting snapshots, prune deletes the
// data only they used, repacks packs they shared with kept snapshots, and
// leaves a repository that checks and whose snapshots restore; a second
// prune finds nothing to do.
func TestPruneFreesForgotten(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	r, faulty := faultyRepo(t, filepath.Join(tmp, "cache"))
	var snaps []*Manifest
	var trees []string
	must(t, os.MkdirAll(src, 0o755))
	for i := range 4 {
		// Each round replaces a big file and adds small ones.
		writeTestFile(t, filepath.Join(src, "big.bin"), wimtest.RandomBytes(uint64(i), 6<<20))
		writeFiles(t, src, map[string]string{fmt.Sprintf("small/%d.txt", i): fmt.Sprint("round ", i)})
		snaps = append(snaps, snapshotOK(t, r, src, TakeOptions{}).Manifest)
		copyTree := filepath.Join(tmp, fmt.Sprint("tree", i))
		if _, err := r.Restore(t.Context(), snaps[i], copyTree, RestoreOptions{}); err != nil {
			t.Fatal(err)
		}
		trees = append(trees, copyTree)
	}
	before, err := listIDs(t.Context(), faulty, packPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.Forget(t.Context(), snaps[:2], LockOptions{}); err != nil || n != 2 {
		t.Fatalf("forget: %d %v", n, err)
	}
	dry, err := r.Prune(t.Context(), PruneOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	res := pruneOK(t, r, PruneOptions{})
	if res.PacksDeleted == 0 || res.BytesFreed < 10<<20 || res.Snapshots != 2 {
		t.Errorf("prune freed too little: %+v", res)
	}
	if dry.PacksDeleted != res.PacksDeleted || dry.PacksRepacked != res.PacksRepacked {
		t.Errorf("dry run %+v, prune %+v", dry, res)
	}
	after, err := listIDs(t.Context(), faulty, packPrefix)
	if err != nil {
		t.Fatal(err)
	}
	var sizeBefore, sizeAfter int64
	for _, n := range before {
		sizeBefore += n
	}
	for _, n := range after {
		sizeAfter += n
	}
	if sizeBefore-sizeAfter != res.BytesFreed {
		t.Errorf("packs went from %d to %d bytes, prune says it freed %d", sizeBefore, sizeAfter, res.BytesFreed)
	}
	checkOK(t, r)
	for i := 2; i < 4; i++ {
		out := filepath.Join(tmp, fmt.Sprint("out", i))
		if _, err := r.Restore(t.Context(), snaps[i], out, RestoreOptions{}); err != nil {
			t.Fatal(err)
		}
		wimtest.CompareTrees(t, trees[i], out, wimtest.CompareOptions{IgnoreRoot: true})
	}
	again := pruneOK(t, r, PruneOptions{})
	if again.PacksDeleted != 0 || again.PacksRepacked != 0 || again.IndexWritten != 0 {
		t.Errorf("second prune did something: %+v", again)
	}
}
