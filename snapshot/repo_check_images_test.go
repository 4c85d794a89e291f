//go:build unix

package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestCheckReadsImagesAhead: check reads the images of many snapshots
// ahead of its walk, small ones several at a time and large ones alone
// (here every one counts as large), and finds them whole either way.
// Cancelled, it stops with the context's error.
func TestCheckReadsImagesAhead(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	r := testRepo(t, wim.CompressXPRESS)
	var snaps []*Manifest
	for i := range 6 {
		writeFiles(t, src, map[string]string{fmt.Sprintf("night-%d.txt", i): fmt.Sprint("night ", i)})
		snaps = append(snaps, snapshotOK(t, r, src, TakeOptions{}).Manifest)
	}
	for _, limit := range []int64{maxImageAhead, 0} {
		t.Run(fmt.Sprint("large above ", limit), func(t *testing.T) {
			defer func(old int64) { maxImageAhead = old }(maxImageAhead)
			maxImageAhead = limit
			res, err := r.Check(t.Context(), CheckOptions{})
			if err != nil || res.Snapshots != len(snaps) || len(res.Damaged) != 0 {
				t.Fatalf("check: %+v, %v", res, err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if _, err := r.Check(ctx, CheckOptions{}); !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled check: %v", err)
			}
		})
	}
}

// TestCheckUnusedBrokenRecipe: a delta recipe whose base's index object is
// gone, as a prune stopped between deleting two old index objects leaves
// it, is counted, not a problem, while no snapshot uses the stream; one a
// snapshot uses is a problem.
func TestCheckUnusedBrokenRecipe(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	r := testRepo(t, wim.CompressXPRESS)
	big := wimtest.RandomBytes(3, 8*RepoChunkSize)
	must(t, os.MkdirAll(src, 0o755))
	writeTestFile(t, filepath.Join(src, "big.bin"), big)
	first := snapshotOK(t, r, src, TakeOptions{})
	copy(big[RepoChunkSize:], "changed")
	writeTestFile(t, filepath.Join(src, "big.bin"), big)
	second := snapshotOK(t, r, src, TakeOptions{})
	objects, err := listIDs(t.Context(), r.store, indexPrefix)
	if err != nil || len(objects) != 2 {
		t.Fatalf("%d index objects, %v; want one per snapshot", len(objects), err)
	}
	// The first snapshot's object holds the base of the second's delta.
	var firstObj index.ID
	for id := range objects {
		o, err := r.readIndexObject(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(o.streams) > 0 && !o.streams[0].delta && slices.ContainsFunc(o.streams, func(s indexStream) bool { return s.size == int64(len(big)) }) {
			firstObj = id
		}
	}
	if firstObj == (index.ID{}) {
		t.Fatal("no index object holds big.bin whole")
	}
	must(t, r.store.Delete(t.Context(), objectKey(indexPrefix, firstObj)))
	res, err := r.Check(t.Context(), CheckOptions{})
	if err == nil || res.UnusedBroken != 0 {
		t.Errorf("with the delta's stream in use: %v, %+v; want problems", err, res)
	}
	if _, err := r.Forget(t.Context(), []*Manifest{first.Manifest, second.Manifest}, LockOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err = r.Check(t.Context(), CheckOptions{})
	if err != nil || res.UnusedBroken != 1 {
		t.Errorf("unused: %v, %+v; want one broken recipe counted and no problem", err, res)
	}
}
