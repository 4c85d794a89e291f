package snapshot

import (
	"slices"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
)

func TestFilterUnmatched(t *testing.T) {
	file := func(n string) *wim.Entry { return &wim.Entry{Name: n, Attributes: wim.AttrNormal} }
	dir := func(n string, cs ...*wim.Entry) *wim.Entry {
		return &wim.Entry{Name: n, Attributes: wim.AttrDirectory, Children: cs}
	}
	root := dir("", dir("etc", dir("ssh", file("sshd_config")), file("hosts")), dir("home", dir("ann", file("a.gz"))))
	tests := []struct {
		name    string
		tree    *wim.Entry // nil: root
		include []string
		want    []string
	}{
		{name: "none"},
		{name: "root", include: []string{"/"}},
		{name: "path", include: []string{"/etc/ssh", "./etc/hosts/", "/nope"}, want: []string{"/nope"}},
		{name: "glob", include: []string{"/home/*/*.gz", "/home/*/*.txt", "/*/ssh"}, want: []string{"/home/*/*.txt"}},
		{name: "base name", include: []string{"*.gz", "hosts", "ssh", "passwd"}, want: []string{"passwd"}},
		{name: "deeper than the tree", include: []string{"/etc/hosts/x"}, want: []string{"/etc/hosts/x"}},
		{name: "an empty tree", tree: dir(""), include: []string{"etc"}, want: []string{"etc"}},
		{name: "given twice", include: []string{"/nope", "/hosts", "/nope"}, want: []string{"/nope", "/hosts"}},
		{name: "spelt twice", include: []string{"/nope/", "//nope", "./nope", "nope"}, want: []string{"/nope/", "nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.tree
			if r == nil {
				r = root
			}
			if got := (Filter{Include: tt.include}).Unmatched(r); !slices.Equal(got, tt.want) {
				t.Errorf("Unmatched(%q) = %q, want %q", tt.include, got, tt.want)
			}
		})
	}
}
