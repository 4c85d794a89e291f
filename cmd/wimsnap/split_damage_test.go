//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestSplitDamageNamed: verify and apply of a split WIM with a damaged
// resource name the part that holds it, once: verify of a later part said
// "p3.swm: p3.swm (part 3 of 4): ...", verify of any part named that part
// for damage in part 1, and apply's summary named the part given
// ("their data in p.swm is damaged") wherever the damage was.
func TestSplitDamageNamed(t *testing.T) {
	for _, bad := range []int{1, 3} {
		for _, named := range []int{1, 3} {
			t.Run(fmt.Sprintf("damage in %d, part %d named", bad, named), func(t *testing.T) {
				splitDamageNamed(t, bad, named)
			})
		}
	}
}

func splitDamageNamed(t *testing.T, bad, named int) {
	t.Helper()
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	for i := range 8 {
		writeFile(t, src, fmt.Sprintf("f%d", i), wimtest.RandomBytes(uint64(i), 400_000))
	}
	wimfile := filepath.Join(tmp, "w.wim")
	runAppOK(t, nil, "capture", src, wimfile)
	swm := filepath.Join(tmp, "p.swm")
	runAppOK(t, nil, "split", wimfile, swm, "1")
	part := func(k int) string {
		if k == 1 {
			return swm
		}
		return filepath.Join(tmp, fmt.Sprintf("p%d.swm", k))
	}
	f, err := os.OpenFile(part(bad), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff, 0xff, 0xff, 0xff}, 300_000); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s (part %d of 4)", part(bad), bad)
	code, _, errb := runApp(t, nil, "verify", part(named))
	if code != exitFailure || strings.Count(errb, ".swm") != 1 || !strings.Contains(errb, "verify: "+want+": wim: checksum mismatch") {
		t.Errorf("verify %s: exit %d, %s; want the error of %s, naming no other file", part(named), code, errb, want)
	}
	code, _, errb = runApp(t, nil, "apply", part(named), "1", filepath.Join(tmp, "out"))
	if code != exitFailure || !strings.Contains(errb, "their data in "+want+" is damaged") {
		t.Errorf("apply %s: exit %d, %s; want the summary naming %s", part(named), code, errb, want)
	}
}
