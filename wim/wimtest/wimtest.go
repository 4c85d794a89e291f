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

// Variant is one way of asking wimlib-imagex to capture: a name for the
// subtest and the flags to add to capture and append.
type Variant struct {
	Name  string
	Flags []string
}

// Solid reports whether the variant writes solid resources.
func (v Variant) Solid() bool { return slices.Contains(v.Flags, "--solid") }

// Version returns the WIM version wimlib writes for the variant: 0xe00 for
// solid resources or LZMS, else 0x10d00.
func (v Variant) Version() uint32 {
	if v.Solid() || slices.Contains(v.Flags, "--compress=lzms") {
		return 0xe00
	}
	return 0x10d00
}

// WimlibVariants are the captures the interop tests ask wimlib-imagex for:
// every codec it writes, chunk sizes other than the default, solid
// resources whose codec differs from the WIM's own, and pipable WIMs in
// each codec (wimlib refuses --pipable with --solid).
var WimlibVariants = []Variant{
	{"none", []string{"--compress=none"}},
	{"xpress", []string{"--compress=xpress"}},
	{"xpress-64k", []string{"--compress=xpress", "--chunk-size=65536"}},
	{"lzx", []string{"--compress=lzx"}},
	{"lzx-128k", []string{"--compress=lzx", "--chunk-size=131072"}},
	{"lzx-2m", []string{"--compress=lzx", "--chunk-size=2097152"}},
	{"solid-xpress", []string{"--compress=lzx", "--solid", "--solid-compress=xpress", "--solid-chunk-size=16384"}},
	{"solid-lzx", []string{"--compress=xpress", "--solid", "--solid-compress=lzx", "--solid-chunk-size=65536"}},
	{"lzms", []string{"--compress=lzms"}},
	{"lzms-1m", []string{"--compress=lzms", "--chunk-size=1048576"}},
	{"solid-lzms", []string{"--solid"}},
	{"solid-lzms-small", []string{"--solid", "--solid-chunk-size=65536"}},
	{"pipable-none", []string{"--pipable", "--compress=none"}},
	{"pipable-xpress", []string{"--pipable", "--compress=xpress"}},
	{"pipable-lzx", []string{"--pipable", "--compress=lzx"}},
	{"pipable-lzms", []string{"--pipable", "--compress=lzms"}},
}
