package miniotest

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// BinaryEnv names the environment variable that may hold the path of the
// minio binary. When it names an executable file, it is used in
// preference to a "minio" on PATH.
const BinaryEnv = "WIMSNAP_MINIO"

// RequireEnv names the environment variable listing the tools whose tests
// must fail rather than skip when the tool is missing: a comma-separated
// list such as "minio,wimlib". CI sets it.
const RequireEnv = "WIMSNAP_TEST_REQUIRE"

// Binary returns the path of the minio binary: BinaryEnv if it names an
// executable file, else "minio" found on PATH. If neither exists, the test
// is skipped, unless RequireEnv lists "minio": then it fails.
func Binary(t testing.TB) string {
	t.Helper()
	if path := os.Getenv(BinaryEnv); path != "" {
		if found, err := exec.LookPath(path); err == nil {
			return found
		}
	}
	path, err := exec.LookPath("minio")
	if err == nil {
		return path
	}
	why := "minio not found (set " + BinaryEnv + " or put minio on PATH; make deps builds it)"
	if required("minio") {
		t.Fatalf("%s, but %s=%q requires it: %v", why, RequireEnv, os.Getenv(RequireEnv), err)
	}
	t.Skipf("%s: %v", why, err)
	return ""
}

// required reports whether RequireEnv lists tool.
func required(tool string) bool {
	list := strings.Split(os.Getenv(RequireEnv), ",")
	for i := range list {
		list[i] = strings.TrimSpace(list[i])
	}
	return slices.Contains(list, tool)
}
