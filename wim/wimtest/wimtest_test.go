//go:build unix

package wimtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestMakeTreeCompareSelf(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "src")
	MakeTree(t, dir, TreeOptions{NonUTF8: true})
	if !CompareTrees(t, dir, dir, CompareOptions{}) {
		t.Fatal("a tree differs from itself")
	}
}

func TestCompareTreesFindsDifferences(t *testing.T) {
	tmp := t.TempDir()
	a, b := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
	MakeTree(t, a, TreeOptions{})
	if out, err := exec.Command("cp", "-a", a, b).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v\n%s", err, out)
	}
	// cp -a keeps absolute symlinks as they are.
	if !CompareTrees(t, a, b, CompareOptions{NoReroot: true}) {
		t.Fatal("cp -a copy differs")
	}
	if err := os.WriteFile(filepath.Join(b, "small.txt"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(b, "modes/readonly"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(b, "links/hard/two-b")); err != nil {
		t.Fatal(err)
	}
	ft := &fakeT{TB: t}
	if CompareTrees(ft, a, b, CompareOptions{NoReroot: true}) {
		t.Fatal("differences not found")
	}
	t.Logf("reported:\n%s", ft.msg)
}

type fakeT struct {
	testing.TB
	msg string
}

func (f *fakeT) Errorf(format string, args ...any) { f.msg += format }
func (f *fakeT) Helper()                           {}

// TestWimlibRoundTrip checks the helpers against the oracle itself:
// wimlib-imagex captures and applies the tree without differences.
func TestWimlibRoundTrip(t *testing.T) {
	Require(t, "wimlib-imagex")
	tmp := t.TempDir()
	src, out, w := filepath.Join(tmp, "src"), filepath.Join(tmp, "out"), filepath.Join(tmp, "x.wim")
	MakeTree(t, src, TreeOptions{})
	Wimlib(t, "capture", src, w, "--unix-data", "--compress=none")
	Wimlib(t, "apply", w, "1", out, "--unix-data")
	CompareTrees(t, src, out, CompareOptions{})
}
