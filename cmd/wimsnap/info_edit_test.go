//go:build unix

package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// TestInfoEditUnchanged: info --name and --description that give IMAGE
// the name and description it has, and --boot of the boot image, leave
// the WIM as it is (bytes and modification time) and say so, in the text
// and in --json ("changed": false).
func TestInfoEditUnchanged(t *testing.T) {
	w := twoImageWIM(t, t.TempDir())
	runAppOK(t, nil, "info", w, "2", "--description=second", "--boot")
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	must(t, os.Chtimes(w, old, old))
	before, err := os.ReadFile(w)
	must(t, err)
	for _, args := range [][]string{
		{"--name=two"},
		{"--name=two", "--description=second"},
		{"--boot"},
		{"--image-property", "NAME=two", "--image-property", "FLAGS="},
	} {
		out := runAppOK(t, nil, append([]string{"info", w, "2"}, args...)...)
		if !strings.Contains(out, "left as it is: nothing to change") {
			t.Errorf("%v: stdout lacks the note: %q", args, out)
		}
		var doc struct{ Changed *bool }
		must(t, json.Unmarshal([]byte(runAppOK(t, nil, append([]string{"--json", "info", w, "2"}, args...)...)), &doc))
		if doc.Changed == nil || *doc.Changed {
			t.Errorf("%v: --json changed = %v, want false", args, doc.Changed)
		}
	}
	after, err := os.ReadFile(w)
	must(t, err)
	st, err := os.Stat(w)
	must(t, err)
	if string(after) != string(before) || !st.ModTime().Equal(old) {
		t.Errorf("WIM rewritten (mtime %v, was %v)", st.ModTime(), old)
	}
	var doc struct{ Changed *bool }
	must(t, json.Unmarshal([]byte(runAppOK(t, nil, "--json", "info", w, "2", "--name=deux")), &doc))
	if doc.Changed == nil || !*doc.Changed {
		t.Errorf("rename: --json changed = %v, want true", doc.Changed)
	}
}

// TestInfoEditBoot: info IMAGE --boot makes IMAGE the boot image, and
// image 0 with --boot leaves none; image 0 with another change, and
// --boot without IMAGE, are usage errors.
func TestInfoEditBoot(t *testing.T) {
	w := twoImageWIM(t, t.TempDir())
	boot := func() uint32 {
		t.Helper()
		var doc infoJSON
		must(t, json.Unmarshal([]byte(runAppOK(t, nil, "--json", "info", w)), &doc))
		return doc.Header.BootIndex
	}
	runAppOK(t, nil, "info", w, "two", "--boot")
	if b := boot(); b != 2 {
		t.Fatalf("boot index %d after info two --boot, want 2", b)
	}
	runAppOK(t, nil, "info", w, "0", "--boot")
	if b := boot(); b != 0 {
		t.Fatalf("boot index %d after info 0 --boot, want 0", b)
	}
	for _, args := range [][]string{{"0", "--boot", "--name=x"}, {"--boot"}, {"0", "--name=x"}, {"1", "--boot=0"}, {"1", "--boot=false"}} {
		if code, _, errb := runApp(t, nil, append([]string{"info", w}, args...)...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, exitUsage, errb)
		}
	}
}

// TestInfoEditProperty: info --image-property sets, replaces and removes
// elements of the image's XML, nested ones included; a malformed one, one
// the writer computes, and a NAME another image has are usage errors.
func TestInfoEditProperty(t *testing.T) {
	w := twoImageWIM(t, t.TempDir())
	runAppOK(t, nil, "info", w, "1", "--image-property", "WINDOWS/EDITIONID=Enterprise",
		"--image-property", "DISPLAYNAME=Shown", "--image-property", "WINDOWS/LANGUAGES/LANGUAGE=en-US",
		"--image-property", "WINDOWS/LANGUAGES/LANGUAGE[2]=fr-FR")
	var doc infoJSON
	must(t, json.Unmarshal([]byte(runAppOK(t, nil, "--json", "info", w, "1")), &doc))
	im := doc.Images[0]
	if im.DisplayName != "Shown" || im.Windows == nil || im.Windows.EditionID != "Enterprise" ||
		strings.Join(im.Windows.Languages, ",") != "en-US,fr-FR" {
		t.Fatalf("image 1 after --image-property: %+v, windows %+v", im, im.Windows)
	}
	runAppOK(t, nil, "info", w, "1", "--image-property", "DISPLAYNAME=")
	must(t, json.Unmarshal([]byte(runAppOK(t, nil, "--json", "info", w, "1")), &doc))
	if doc.Images[0].DisplayName != "" {
		t.Errorf("DISPLAYNAME= left %q", doc.Images[0].DisplayName)
	}
	for _, p := range []string{"NOEQUALS", "TOTALBYTES=1", "/A=1", "A[0]=1", "L/X[2]=1", "NAME=two"} {
		code, _, errb := runApp(t, nil, "info", w, "1", "--image-property", p)
		if code != exitUsage {
			t.Errorf("--image-property %s: exit %d, want %d: %s", p, code, exitUsage, errb)
		}
	}
}

// TestInfoEditUnchangedSpaces: a property set again to the value it holds,
// white space at its ends included, leaves the WIM as it is.
func TestInfoEditUnchangedSpaces(t *testing.T) {
	w := twoImageWIM(t, t.TempDir())
	for _, prop := range []string{"WINDOWS/EDITIONID= Pro ", "A/B=x\t"} {
		runAppOK(t, nil, "info", w, "1", "--image-property", prop)
		if out := runAppOK(t, nil, "info", w, "1", "--image-property", prop); !strings.Contains(out, "left as it is") {
			t.Errorf("--image-property %q again rewrote the WIM: %q", prop, out)
		}
	}
}

// TestInfoEditUnchangedReadOnly: an edit that changes nothing succeeds on
// a WIM its header marks read-only, since nothing is written; a change is
// refused.
func TestInfoEditUnchangedReadOnly(t *testing.T) {
	w := markReadOnly(t, twoImageWIM(t, t.TempDir()))
	runAppOK(t, nil, "info", w, "1", "--name=one")
	if code, _, errb := runApp(t, nil, "info", w, "1", "--name=uno"); code != exitFailure {
		t.Errorf("rename of a read-only WIM: exit %d, want %d: %s", code, exitFailure, errb)
	}
}
