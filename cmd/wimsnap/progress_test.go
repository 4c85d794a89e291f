package main

import (
	"strings"
	"testing"
	"unicode/utf8"
)

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

// TestStatusLineNarrow: on a narrow terminal the status line keeps its
// verb and counts and shortens the path from its start; too narrow for
// the counts, it keeps its start. It kept the end: "…hangelog.Debian.gz".
func TestStatusLineNarrow(t *testing.T) {
	line := "restoring: 3 dirs, 40 files, 1.2 MiB  /usr/share/doc/x/changelog.Debian.gz"
	for n, want := range map[int]string{
		200: line,
		50:  "restoring: 3 dirs, 40 files, 1.2 MiB  …g.Debian.gz",
		40:  "restoring: 3 dirs, 40 files, 1.2 MiB  …z",
		20:  "restoring: 3 dirs, …",
	} {
		if got := truncate(line, n); got != want || utf8.RuneCountInString(got) > n {
			t.Errorf("%d columns: %q, want %q", n, got, want)
		}
	}
	if got := truncate("verifying: 1.0 GiB of 2.0 GiB (50%), ETA 18s", 20); got != "verifying: 1.0 GiB …" {
		t.Errorf("a line without a path: %q", got)
	}
}

// TestStatusLineWide: a path of wide characters is cut to the terminal's
// columns, two per character, not to as many characters: 79 of them took
// 99 columns at 80, and the line wrapped.
func TestStatusLineWide(t *testing.T) {
	line := "snapshotting: 2 dirs, 3 files, 60 MiB  /data/日本語のとても長いディレクトリ名前/ファイル名前.bin"
	for _, n := range []int{79, 60, 45, 44, 20} {
		got := truncate(line, n)
		if colsOf(got) > n || !strings.HasPrefix(got, line[:min(len("snapshotting:"), n-1)]) {
			t.Errorf("%d columns: %q takes %d", n, got, colsOf(got))
		}
	}
	if got := truncate(line, 60); got != "snapshotting: 2 dirs, 3 files, 60 MiB  …前/ファイル名前.bin" {
		t.Errorf("60 columns: %q", got)
	}
	if got := truncate("restoring: 1 file  /x/"+strings.Repeat("e\u0301", 30), 40); strings.Contains(got, "…\u0301") || colsOf(got) > 40 {
		t.Errorf("a path of combining marks cut to 40 columns: %q", got)
	}
	for s, want := range map[string]int{"abc": 3, "日本": 4, "e\u0301": 1, "a\u200bb": 2, "ｘ": 2, "😀": 2, "✅": 2, "⭐": 2, "🟠": 2, "☃": 1} {
		if got := colsOf(s); got != want {
			t.Errorf("colsOf(%q) = %d, want %d", s, got, want)
		}
	}
}
