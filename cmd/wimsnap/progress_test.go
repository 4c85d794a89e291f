package main

import "testing"

// TestStatusLineDumbTerminal: a terminal with TERM=dumb gets no status
// line, whose "\r\x1b[K" it would show as they are; another gets one.
func TestStatusLineDumbTerminal(t *testing.T) {
	for term, want := range map[string]bool{"dumb": false, "xterm-256color": true, "": true} {
		a, _, _ := testApp(map[string]string{"TERM": term})
		a.stderrTTY = true
		if got := a.newStatus() != nil; got != want {
			t.Errorf("TERM=%q: status line %v, want %v", term, got, want)
		}
	}
}
