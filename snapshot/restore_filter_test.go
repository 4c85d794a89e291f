package snapshot

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
)

func TestFilterSelected(t *testing.T) {
	tests := []struct {
		name             string
		include, exclude []string
		path             string
		want             bool
	}{
		{"no filter", nil, nil, "/a/b", true},
		{"include dir selects subtree", []string{"/etc"}, nil, "/etc/ssh/sshd_config", true},
		{"include dir not sibling", []string{"/etc"}, nil, "/etc2/x", false},
		{"include without slash is relative to root", []string{"etc/ssh"}, nil, "/etc/ssh/k", true},
		{"base name pattern", []string{"*.conf"}, nil, "/etc/a.conf", true},
		{"base name pattern miss", []string{"*.conf"}, nil, "/etc/a.txt", false},
		{"glob in path", []string{"/home/*/.cache"}, nil, "/home/ann/.cache/x", true},
		{"exclude wins", []string{"/etc"}, []string{"/etc/ssh"}, "/etc/ssh/k", false},
		{"exclude base name", nil, []string{"*.tmp"}, "/var/x.tmp", false},
		{"exclude leaves others", nil, []string{"/var"}, "/etc/x", true},
		{"exclude root excludes all", nil, []string{"/"}, "/etc/x", false},
		{"include root includes all", []string{"/"}, nil, "/etc/x", true},
		{"include root beside another", []string{"/etc", "/"}, nil, "/var/x", true},
		{"dot slash is the root", nil, []string{"./etc"}, "/etc/x", false},
		{"double slash", nil, []string{"//etc"}, "/etc/x", false},
		{"trailing slash", nil, []string{"etc/"}, "/etc/x", false},
		{"sh negated class", []string{"q[!1]"}, nil, "/q2", true},
		{"sh negated class miss", []string{"q[!1]"}, nil, "/q1", false},
		{"sh negated class in path", []string{"/t/q[!1]*"}, nil, "/t/q1_renamed", false},
		{"sh negated class in path hit", []string{"/t/q[!1]*"}, nil, "/t/q22/x", true},
		{"caret negated class", nil, []string{"q[^1]"}, "/q1", true},
		{"escaped bracket keeps its bang", []string{`\[!1]`}, nil, "/[!1]", true},
		{"bang inside a class is a character", []string{"q[a!]"}, nil, "/q!", true},
		{"sh bracket first in a class", []string{"q[]a]"}, nil, "/q]", true},
		{"sh bracket first in a class, other member", []string{"q[]a]"}, nil, "/qa", true},
		{"sh bracket first in a class miss", []string{"q[]a]"}, nil, "/qb", false},
		{"sh bracket first in a negated class", []string{"q[!]a]"}, nil, "/qb", true},
		{"sh bracket first in a negated class miss", []string{"q[!]a]"}, nil, "/q]", false},
		{"caret bracket first", []string{"q[^]]"}, nil, "/q]", false},
		{"bracket class alone", []string{"[]]"}, nil, "/]", true},
		{"sh dash last in a class", []string{"q[a-]"}, nil, "/q-", true},
		{"sh dash last in a class, other member", []string{"q[a-]"}, nil, "/qa", true},
		{"sh dash first in a class", []string{"q[-a]"}, nil, "/q-", true},
		{"sh dash first in a negated class", []string{"q[!-a]"}, nil, "/q-", false},
		{"sh dash after a first bracket", []string{"q[]-]"}, nil, "/q-", true},
		{"a range still a range", []string{"q[a-c]"}, nil, "/qb", true},
		{"a range still a range miss", []string{"q[a-c]"}, nil, "/q-", false},
		{"sh range from a first bracket", []string{"q[]-a]"}, nil, "/q^", true},
		{"sh range from a first bracket, a dash", []string{"q[]-a]"}, nil, "/q-", false},
		{"sh negated range from a first bracket", []string{"q[!]-a]"}, nil, "/q-", true},
		{"sh named class", []string{"q[[:digit:]]"}, nil, "/q7", true},
		{"sh named class miss", []string{"q[[:digit:]]"}, nil, "/q[]", false},
		{"sh negated named class", []string{"q[![:digit:]x]"}, nil, "/qa", true},
		{"sh negated named class miss", []string{"q[![:digit:]x]"}, nil, "/qx", false},
		{"sh two named classes", []string{"q[[:upper:][:punct:]]"}, nil, "/q_", true},
		// punct's ranges held '/' (the pattern became one of the whole
		// path) and began with '!' (a second translation negated them):
		// --include '*[[:punct:]]*' --delete deleted files without any.
		{"sh punct in a name", []string{"*[[:punct:]]*"}, nil, "/c.d", true},
		{"sh punct miss", []string{"*[[:punct:]]*"}, nil, "/ab", false},
		{"sh punct miss below", []string{"*[[:punct:]]*"}, nil, "/x/yz", false},
		{"sh punct of a bang", []string{"[[:punct:]]"}, nil, "/x/!", true},
		{"sh graph miss", []string{"[[:graph:]]"}, nil, "/ ", false},
		{"sh dash after a named class", []string{"q[[:space:]-a]"}, nil, "/q-", true},
		{"sh dash after a named class, no range", []string{"q[[:space:]-a]"}, nil, "/q]", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Filter{Include: tt.include, Exclude: tt.exclude}.Normalized()
			if got := f.Selected(tt.path); got != tt.want {
				t.Errorf("Selected(%q) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}

func TestFilterApply(t *testing.T) {
	file := func(n string) *wim.Entry { return &wim.Entry{Name: n, Attributes: wim.AttrNormal} }
	dir := func(n string, cs ...*wim.Entry) *wim.Entry {
		return &wim.Entry{Name: n, Attributes: wim.AttrDirectory, Children: cs}
	}
	root := dir("", dir("etc", dir("ssh", file("k")), file("passwd")), dir("var", file("log")), file("top.conf"))
	paths := func(e *wim.Entry) []string {
		var out []string
		_ = (&wim.Metadata{Root: e}).Walk(func(p string, _ *wim.Entry) error { out = append(out, p); return nil })
		return out
	}
	tests := []struct {
		name string
		f    Filter
		want []string
	}{
		{"include subtree", Filter{Include: []string{"/etc/ssh"}}, []string{"/", "/etc", "/etc/ssh", "/etc/ssh/k"}},
		{"exclude dir", Filter{Exclude: []string{"/etc"}}, []string{"/", "/var", "/var/log", "/top.conf"}},
		{"include base name", Filter{Include: []string{"*.conf"}}, []string{"/", "/top.conf"}},
		{"include and exclude", Filter{Include: []string{"/etc"}, Exclude: []string{"passwd"}},
			[]string{"/", "/etc", "/etc/ssh", "/etc/ssh/k"}},
		{"exclude root", Filter{Exclude: []string{"/"}}, []string{"/"}},
		{"include root", Filter{Include: []string{"/"}}, []string{"/", "/etc", "/etc/ssh", "/etc/ssh/k", "/etc/passwd", "/var", "/var/log", "/top.conf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := paths(tt.f.Normalized().Apply(root))
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
	if len(paths(root)) != 8 {
		t.Error("Apply changed the original tree")
	}
}

func TestDiff(t *testing.T) {
	file := func(n string, h byte, mtime wim.Filetime) *wim.Entry {
		return &wim.Entry{Name: n, Attributes: wim.AttrNormal, Data: wim.Stream{Hash: wim.Hash{h}}, LastWriteTime: mtime, SecurityID: -1}
	}
	dir := func(n string, cs ...*wim.Entry) *wim.Entry {
		return &wim.Entry{Name: n, Attributes: wim.AttrDirectory, Children: cs, SecurityID: -1}
	}
	a := &wim.Metadata{Root: dir("", file("same", 1, 1), file("changed", 2, 1), file("touched", 3, 1), file("gone", 4, 1), dir("olddir", file("x", 5, 1)))}
	b := &wim.Metadata{Root: dir("", file("same", 1, 1), file("changed", 9, 2), file("touched", 3, 7), file("new", 6, 1), dir("olddir", file("x", 5, 1)))}
	got := Diff(a, b)
	want := []Change{{Path: "/changed", Kind: "M"}, {Path: "/gone", Kind: "-"}, {Path: "/new", Kind: "+"}, {Path: "/touched", Kind: "U"}}
	if len(got) != len(want) {
		t.Fatalf("Diff = %+v", got)
	}
	for i := range want {
		if got[i].Path != want[i].Path || got[i].Kind != want[i].Kind {
			t.Errorf("change %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if len(Diff(a, a)) != 0 {
		t.Error("an image differs from itself")
	}
	touchedRoot := &wim.Metadata{Root: dir("", a.Root.Children...)}
	touchedRoot.Root.LastWriteTime = 9
	if d := Diff(a, touchedRoot); len(d) != 1 || d[0].Path != "/" || d[0].Kind != "U" {
		t.Errorf("the root's mtime changed: %+v", d)
	}

	// NTFS metadata: a descriptor is compared by its bytes (each image
	// numbers its own), and the DOS name.
	withSD := func(id int32, short string) *wim.Entry {
		e := file("f", 1, 1)
		e.SecurityID = id
		if short != "" {
			e.Ext = &wim.EntryExt{ShortName: short}
		}
		return e
	}
	sdA, sdB := []byte("descriptor one"), []byte("descriptor two")
	c := &wim.Metadata{Root: dir("", withSD(0, "F~1")), Security: [][]byte{sdA}}
	renumbered := &wim.Metadata{Root: dir("", withSD(1, "F~1")), Security: [][]byte{sdB, sdA}}
	if d := Diff(c, renumbered); len(d) != 0 {
		t.Errorf("the same descriptor under another number: %+v", d)
	}
	other := &wim.Metadata{Root: dir("", withSD(0, "F~2")), Security: [][]byte{sdB}}
	if d := Diff(c, other); len(d) != 1 || d[0].Kind != "U" || !slices.Equal(d[0].What, []string{"security", "short-name"}) {
		t.Errorf("descriptor and DOS name changed: %+v", d)
	}

	// Hard links: by the paths of each group, which each image numbers
	// its own way. /a and /b become one file; /c leaves /d's group for
	// /e's, whose contents are the same.
	linked := func(n string, id uint64) *wim.Entry {
		e := file(n, 1, 1)
		e.LinkID = id
		return e
	}
	before := &wim.Metadata{Root: dir("", linked("a", 0), linked("b", 0), linked("c", 5), linked("d", 5), linked("e", 0), dir("s", linked("x", 9), linked("y", 9)))}
	after := &wim.Metadata{Root: dir("", linked("a", 2), linked("b", 2), linked("c", 3), linked("d", 0), linked("e", 3), dir("s", linked("x", 1), linked("y", 1)))}
	var links []string
	for _, c := range Diff(before, after) {
		if c.Kind != "U" || !slices.Equal(c.What, []string{"links"}) {
			t.Errorf("hard links changed: %+v, want U links", c)
		}
		links = append(links, c.Path)
	}
	if !slices.Equal(links, []string{"/a", "/b", "/c", "/d", "/e"}) {
		t.Errorf("hard links changed at %q, want /a to /e (not /s: the same pair under other ids)", links)
	}
}

// TestDiffKinds: a change of a UNIX file's type (a file made a FIFO, a
// character device a block one), of a device's number and of a named
// stream's contents is "M", as the help says; xattrs set again in another
// order are no change. All were "U" (the xattrs one a change).
func TestDiffKinds(t *testing.T) {
	node := func(n string, mode, rdev uint32, xattrs ...string) *wim.Entry {
		e := &wim.Entry{Name: n, Attributes: wim.AttrNormal, SecurityID: -1, Unix: &wim.UnixData{Mode: mode, Rdev: rdev}}
		for _, x := range xattrs {
			e.Xattrs = append(e.Xattrs, wim.Xattr{Name: x, Value: []byte(x + "=1")})
		}
		return e
	}
	stream := func(n string, h byte) *wim.Entry {
		e := node(n, 0o100644, 0)
		e.Ext = &wim.EntryExt{Named: []wim.Stream{{Name: "ads", Hash: wim.Hash{h}}}}
		return e
	}
	root := func(cs ...*wim.Entry) *wim.Metadata {
		return &wim.Metadata{Root: &wim.Entry{Attributes: wim.AttrDirectory, SecurityID: -1, Children: cs}}
	}
	a := root(node("fifo", 0o100644, 0), node("blk", 0o020644, 259), node("dev", 0o020644, 259),
		node("perm", 0o100644, 0), stream("s", 1), node("x", 0o100644, 0, "user.a", "user.b"))
	b := root(node("fifo", 0o010644, 0), node("blk", 0o060644, 259), node("dev", 0o020644, 260),
		node("perm", 0o100600, 0), stream("s", 2), node("x", 0o100644, 0, "user.b", "user.a"))
	want := map[string]string{"/blk": "M type", "/dev": "M device", "/fifo": "M type", "/perm": "U mode", "/s": "M streams"}
	got := map[string]string{}
	for _, c := range Diff(a, b) {
		got[c.Path] = c.Kind + " " + strings.Join(c.What, ",")
	}
	if !maps.Equal(got, want) {
		t.Errorf("Diff = %q, want %q", got, want)
	}
}

// TestFilterRootPattern: "/" matches every path, the root's too, so that
// --exclude / leaves the root alone as well.
func TestFilterRootPattern(t *testing.T) {
	f := Filter{Exclude: []string{"/"}}.Normalized()
	for _, p := range []string{"/", "/a", "/a/b"} {
		if f.Selected(p) || f.Deletable(p) {
			t.Errorf("--exclude / selects %s", p)
		}
	}
}

// TestFilterValidateHint: a malformed pattern's error says how to match a
// '[' (or '*', '?', '\') that a file name holds, which a user typing the
// name as it is ("star[1") does not know from "bad pattern" alone.
func TestFilterValidateHint(t *testing.T) {
	// An unterminated class, or one of a name sh lacks, too: Match took
	// "a[!]" for a class of '!' and "[[:alpha:]" for one of its letters.
	for _, p := range []string{"star*q?br[ack", "/a/b[", `back\`, "a[!]", "[[:alpha:]", "[![:foo:]]"} {
		err := Filter{Include: []string{p}}.Validate()
		if err == nil || !strings.Contains(err.Error(), `\[ \* \? \\`) {
			t.Errorf("Validate(%q) = %v; want an error naming the escapes", p, err)
		}
	}
	if err := (Filter{Exclude: []string{`star\*q\?br\[ack`, `back\\slash`}}).Validate(); err != nil {
		t.Errorf("escaped patterns: %v", err)
	}
}

// TestDeletableDeepPath: a filter without patterns answers for a path at
// any depth without walking its ancestors, and one with patterns walks
// them without cleaning each again: a rollback deleting a chain of 3000
// directories took 30 s (path.Dir cleaned every ancestor of every path).
func TestDeletableDeepPath(t *testing.T) {
	deep := strings.Repeat("/b", 3000)
	if n := testing.AllocsPerRun(10, func() { Filter{}.Deletable(deep) }); n != 0 {
		t.Errorf("Deletable without patterns: %v allocations for a path 3000 deep, want 0", n)
	}
	f := Filter{Exclude: []string{"/nothing"}}
	if n := testing.AllocsPerRun(10, func() { f.Deletable(deep) }); n > 10 {
		t.Errorf("Deletable with a pattern: %v allocations for a path 3000 deep, want a few", n)
	}
	if f.Deletable(deep) != true || (Filter{Exclude: []string{"/b/b"}}).Deletable(deep) != false {
		t.Error("Deletable of a deep path: wrong verdict")
	}
}

// BenchmarkDeletableDeep measures Deletable of a path 3000 directories
// deep, as a rollback asks it of each entry of a deep tree it deletes:
// without patterns it walks no ancestor (it walked all, each cleaned).
func BenchmarkDeletableDeep(b *testing.B) {
	deep := strings.Repeat("/b", 3000)
	for _, f := range []Filter{{}, {Exclude: []string{"/nothing"}}} {
		b.Run(fmt.Sprintf("patterns=%d", len(f.Exclude)), func(b *testing.B) {
			for b.Loop() {
				f.Deletable(deep)
			}
		})
	}
}
