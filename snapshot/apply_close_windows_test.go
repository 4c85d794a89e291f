package snapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/windows"
)

// TestWinApplyCloseFails: on Windows too, a file whose close fails (a
// network share reporting writes it could not store) is removed and
// warned about, not left with the image's size and times for a rollback
// to keep as restored; the rollback then writes it. Run under Wine by
// hand (GOOS=windows go test -c), as TestPlainPath is.
func TestWinApplyCloseFails(t *testing.T) {
	// Not t.TempDir: its removal fails under Wine 8 (no unlinkat).
	tmp, err := os.MkdirTemp("", "wimsnap-test")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	src := filepath.Join(tmp, "src")
	for i := range 4 {
		p := filepath.Join(src, "sub", fmt.Sprintf("f%d.bin", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Repeat(fmt.Sprint("x", i), 20<<10)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(tmp, "x.wim")
	captureWIM(t, src, path, CaptureOptions{})
	r, m := openWIM(t, path)
	target := filepath.Join(tmp, "target")
	defer func(c func(windows.Handle) error) { closeHandle = c }(closeHandle)
	closeHandle = func(h windows.Handle) error {
		buf := make([]uint16, windows.MAX_LONG_PATH)
		n, _ := windows.GetFinalPathNameByHandle(h, &buf[0], uint32(len(buf)), 0)
		err := windows.CloseHandle(h)
		if err == nil && strings.HasSuffix(windows.UTF16ToString(buf[:n]), `\f2.bin`) {
			err = windows.ERROR_UNEXP_NET_ERR
		}
		return err
	}
	var warned []string
	st, err := Apply(t.Context(), m, r, target, ApplyOptions{Warn: func(p string, err error) {
		warned = append(warned, fmt.Sprintf("%s: %v", p, err))
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(target, "sub", "f2.bin")); !errors.Is(err, fs.ErrNotExist) || st.Skipped != 1 ||
		len(warned) != 1 || !strings.Contains(warned[0], "f2.bin") {
		t.Fatalf("f2.bin: %v, %d skipped, warnings %q; want it removed, skipped and warned about", err, st.Skipped, warned)
	}
	closeHandle = windows.CloseHandle
	again := applyOK(t, m, r, target, ApplyOptions{InPlace: true})
	if again.Files-again.Unchanged != 1 {
		t.Errorf("rollback: %+v; want the one file written", again)
	}
	for i := range 4 {
		rel := filepath.Join("sub", fmt.Sprintf("f%d.bin", i))
		want, _ := os.ReadFile(filepath.Join(src, rel))
		if got, err := os.ReadFile(filepath.Join(target, rel)); err != nil || string(got) != string(want) {
			t.Errorf("%s after the rollback: %d bytes (%v), want %d", rel, len(got), err, len(want))
		}
	}
}
