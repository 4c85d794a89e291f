//go:build unix

package snapshot

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
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
