package snapshot

import (
	"errors"
	"slices"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
)

// TestSelectPaths: ApplyOptions.Paths resolve to their entries in order,
// a path named twice (in any spelling) once, so that extract /a /a
// applies /a without a warning about a second path with its base name;
// "/" is the whole image and a missing path ErrPathNotFound.
func TestSelectPaths(t *testing.T) {
	dir := func(name string, children ...*wim.Entry) *wim.Entry {
		return &wim.Entry{Name: name, Attributes: wim.AttrDirectory, Children: children}
	}
	f := &wim.Entry{Name: "f", Attributes: wim.AttrNormal}
	b := dir("b", f)
	a := dir("a", b)
	root := dir("", a)
	tests := []struct {
		name  string
		paths []string
		want  []*wim.Entry
		err   error
	}{
		{name: "one", paths: []string{"/a/b"}, want: []*wim.Entry{b}},
		{name: "two", paths: []string{"/a/b/f", "/a"}, want: []*wim.Entry{f, a}},
		{name: "named twice", paths: []string{"/a", "/a"}, want: []*wim.Entry{a}},
		{name: "spelled twice", paths: []string{"/a/b", `\a\b\`, "a//b"}, want: []*wim.Entry{b}},
		{name: "root", paths: []string{"/a", "/"}, want: nil},
		{name: "missing", paths: []string{"/a", "/c"}, err: ErrPathNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := selectPaths(root, tt.paths)
			if !errors.Is(err, tt.err) || !slices.Equal(got, tt.want) {
				t.Errorf("selectPaths(%q) = %v, %v; want %v, %v", tt.paths, got, err, tt.want, tt.err)
			}
		})
	}
}
