// Package wimtest holds test helpers for code that reads and writes WIM
// files: running wimlib-imagex as an oracle, building a source tree with
// every kind of entry, and comparing two trees.
package wimtest

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
)

// RequireEnv names the environment variable listing the tools whose tests
// must not be skipped: a comma-separated list of short names ("wimlib",
// "minio") or full tool names. CI sets it.
const RequireEnv = "WIMSNAP_TEST_REQUIRE"

// Require returns the path of tool. If tool is missing, the test is
// skipped, unless RequireEnv lists it (by its full name or the part before
// the first '-', so "wimlib" stands for "wimlib-imagex"): then it fails.
func Require(t testing.TB, tool string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err == nil {
		return path
	}
	short, _, _ := strings.Cut(tool, "-")
	required := strings.Split(os.Getenv(RequireEnv), ",")
	for i := range required {
		required[i] = strings.TrimSpace(required[i])
	}
	if slices.Contains(required, tool) || slices.Contains(required, short) {
		t.Fatalf("%s is required (%s=%s) but not found: %v", tool, RequireEnv, os.Getenv(RequireEnv), err)
	}
	t.Skipf("%s not found: %v", tool, err)
	return ""
}

// Wimlib runs wimlib-imagex with args and returns its combined output. A
// failure fails the test with the command line and the output.
func Wimlib(t testing.TB, args ...string) string {
	t.Helper()
	path := Require(t, "wimlib-imagex")
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("wimlib-imagex %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Open opens the WIM at path for the rest of the test, failing the test on
// any error; the file is closed at cleanup.
func Open(t testing.TB, path string) *wim.Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	})
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	r, err := wim.NewReader(f, st.Size())
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return r
}
