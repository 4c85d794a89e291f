package wim

import (
	"runtime"
	"strings"
	"testing"
)

// deepTree returns a chain of depth directories named with n bytes each,
// ending in a file.
func deepTree(depth, n int) *Metadata {
	root := &Entry{Attributes: AttrDirectory}
	e := root
	for i := range depth {
		c := &Entry{Name: strings.Repeat(string(rune('a'+i%26)), n), Attributes: AttrDirectory}
		e.Children = []*Entry{c}
		e = c
	}
	e.Children = []*Entry{{Name: "leaf"}}
	return &Metadata{Root: root}
}

// TestVisitDeepTree: a walk that asks for no path allocates next to
// nothing however deep the tree (paths of all ancestors kept during the
// walk grew with the square of the depth: 8 GB for a 5 MB WIM), the paths
// asked for are right, and Walk gives the same ones.
func TestVisitDeepTree(t *testing.T) {
	m := deepTree(3000, 200)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n := 0
	if err := m.Visit(func(*Entry, func() string) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if n != 3002 {
		t.Errorf("visited %d entries, want 3002", n)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("a visit without paths allocated %d bytes", got)
	}

	small := deepTree(2, 3)
	var visited, walked []string
	_ = small.Visit(func(_ *Entry, path func() string) error { visited = append(visited, path()); return nil })
	_ = small.Walk(func(p string, _ *Entry) error { walked = append(walked, p); return nil })
	want := []string{"/", "/aaa", "/aaa/bbb", "/aaa/bbb/leaf"}
	if strings.Join(visited, " ") != strings.Join(want, " ") || strings.Join(walked, " ") != strings.Join(want, " ") {
		t.Errorf("Visit paths %q, Walk paths %q, want %q", visited, walked, want)
	}
}
