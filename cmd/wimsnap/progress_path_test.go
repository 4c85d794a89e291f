package main

import (
	"strings"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/snapshot"
)

// TestStatusLinePath: the status line shows the current path quoted when
// it holds a newline, an escape sequence or a byte that is not UTF-8, which
// written raw to the terminal broke the line or drove the terminal.
func TestStatusLinePath(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC) }
	tr := newTracker("capturing", now)
	tr.update(snapshot.Progress{Files: 1, Path: "/srv/a\nb\x1b[2J\xe9"})
	got := tr.render()
	if !strings.HasSuffix(got, `  "/srv/a\nb\x1b[2J\xe9"`) {
		t.Errorf("status line %q; want the path quoted", got)
	}
}
