//go:build unix

package main

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFIFONotOpened: a FIFO given as the WIM is refused before it is
// opened, which would wait for a writer beyond the reach of SIGINT.
func TestFIFONotOpened(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	for _, args := range [][]string{{"info", fifo}, {"verify", fifo}, {"dir", fifo}, {"append", t.TempDir(), fifo}} {
		done := make(chan int, 1)
		a, _, errb := testApp(nil)
		go func() { done <- a.run(context.Background(), args) }()
		select {
		case code := <-done:
			if code != exitFailure || !strings.Contains(errb.String(), "not a regular file") {
				t.Errorf("%v: exit %d, stderr %q", args, code, errb)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%v: still waiting for a writer of the FIFO", args)
		}
	}
}
