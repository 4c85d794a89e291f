//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAppendNameGiven: a name append is given, by --name or by
// --image-property in any spelling of its path ("NAME", "NAME[1]"), must
// be free (exit 2, the WIM unchanged), while an empty one is never taken,
// as in wimlib-imagex, which gives several images no name.
func TestAppendNameGiven(t *testing.T) {
	tmp := t.TempDir()
	w := twoImageWIM(t, tmp)
	for _, args := range [][]string{
		{"--name=one"},
		{"--image-property", "NAME=one"},
		{"--image-property", "NAME[1]=two"},
	} {
		before, err := os.ReadFile(w)
		must(t, err)
		code, _, errb := runApp(t, nil, append([]string{"append", filepath.Join(tmp, "one"), w}, args...)...)
		if code != exitUsage || !strings.Contains(errb, "is already used") {
			t.Errorf("%v: exit %d, stderr %q; want %d, the name taken", args, code, errb, exitUsage)
		}
		after, err := os.ReadFile(w)
		must(t, err)
		if string(after) != string(before) {
			t.Errorf("%v: the WIM changed", args)
		}
	}
	runAppOK(t, nil, "info", w, "1", "--name=")
	runAppOK(t, nil, "append", filepath.Join(tmp, "one"), w, "--name=")
	runAppOK(t, nil, "append", filepath.Join(tmp, "two"), w, "--image-property", "NAME=")
	f, r, err := openWIM(w)
	must(t, err)
	defer closeRead(f)
	var names []string
	for i := 1; i <= r.ImageCount(); i++ {
		names = append(names, r.Image(i).Name)
	}
	if got := strings.Join(names, ","); got != ",two,," {
		t.Errorf("image names %q, want \",two,,\"", got)
	}
}
