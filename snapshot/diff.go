package snapshot

import (
	"bytes"
	"slices"
	"strings"

	"github.com/wimsnap/wimsnap/wim"
)

// Change is one difference between two images.
type Change struct {
	Path string `json:"path"`
	// Kind is "+" (only in the second image), "-" (only in the first),
	// "M" (contents differ: the data, a named stream, the link target, the
	// type or a device's number) or "U" (metadata only: mode, owner,
	// times, xattrs, attributes, security descriptor, DOS name, hard
	// links).
	Kind string `json:"kind"`
	// What lists the metadata that differ for "M" and "U".
	What []string `json:"what,omitempty"`
}

// Diff lists the differences from image a to image b, in path order. A
// directory present on one side only is listed once, not its contents.
func Diff(a, b *wim.Metadata) []Change {
	d := differ{ma: a, mb: b, la: linkGroups(a), lb: linkGroups(b), sameGroup: map[[2]uint64]bool{}}
	d.entries(a.Root, b.Root)
	return d.out
}

// differ is the state of one Diff: the two images, for their security
// descriptors, their hard link groups, the changes found, and the path of
// the entries compared (one buffer, so that a deep tree's ancestors do not
// each keep theirs).
type differ struct {
	ma, mb *wim.Metadata
	la, lb map[uint64][]string
	// sameGroup caches whether group a of ma and group b of mb have the
	// same paths, so that a group of n names is compared once, not n
	// times.
	sameGroup map[[2]uint64]bool
	out       []Change
	path      []byte
}

// groupOf returns the paths of e's hard link group in groups (see
// linkGroups); nil for a directory, whose LinkID, which should be 0, is
// no group's.
func groupOf(groups map[uint64][]string, e *wim.Entry) []string {
	if e.IsDir() {
		return nil
	}
	return groups[e.LinkID]
}

// linkGroups returns the hard link groups of image m: for each LinkID
// that two entries or more share, their paths in order. An entry outside
// them has no other name in the image.
func linkGroups(m *wim.Metadata) map[uint64][]string {
	groups := map[uint64][]string{}
	_ = m.Visit(func(e *wim.Entry, path func() string) error {
		if e.LinkID != 0 && !e.IsDir() {
			groups[e.LinkID] = append(groups[e.LinkID], path())
		}
		return nil
	})
	for id, paths := range groups {
		if len(paths) < 2 {
			delete(groups, id)
		} else {
			slices.Sort(paths)
		}
	}
	return groups
}

// at returns the path of the entries compared: "/" for the roots.
func (d *differ) at() string {
	if len(d.path) == 0 {
		return "/"
	}
	return string(d.path)
}

func (d *differ) entries(a, b *wim.Entry) {
	out := &d.out
	if what := d.entryDiff(a, b); len(what) > 0 { // the root's metadata too
		kind := "U"
		if slices.ContainsFunc(what, func(w string) bool {
			return w == "contents" || w == "type" || w == "streams" || w == "device"
		}) {
			kind = "M"
		}
		*out = append(*out, Change{Path: d.at(), Kind: kind, What: what})
	}
	if !a.IsDir() || !b.IsDir() {
		return
	}
	ac, bc := byName(a.Children), byName(b.Children)
	names := make([]string, 0, len(ac)+len(bc))
	for n := range ac {
		names = append(names, n)
	}
	for n := range bc {
		if _, ok := ac[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	parent := len(d.path)
	for _, n := range names {
		d.path = append(append(d.path[:parent], '/'), n...)
		x, y := ac[n], bc[n]
		switch {
		case x == nil:
			*out = append(*out, Change{Path: d.at(), Kind: "+"})
		case y == nil:
			*out = append(*out, Change{Path: d.at(), Kind: "-"})
		default:
			d.entries(x, y)
		}
	}
	d.path = d.path[:parent]
}

func byName(es []*wim.Entry) map[string]*wim.Entry {
	m := make(map[string]*wim.Entry, len(es))
	for _, e := range es {
		m[e.Name] = e
	}
	return m
}

// entryDiff names what differs between a, of image d.ma, and b, of
// image d.mb, at the same path.
func (d *differ) entryDiff(a, b *wim.Entry) []string {
	var what []string
	add := func(cond bool, name string) {
		if cond {
			what = append(what, name)
		}
	}
	au, bu := a.Unix, b.Unix
	add(a.IsDir() != b.IsDir() || a.IsReparse() != b.IsReparse() ||
		au != nil && bu != nil && au.Mode&unixTypeMask != bu.Mode&unixTypeMask, "type")
	add(a.Data.Hash != b.Data.Hash || a.ReparseStream().Hash != b.ReparseStream().Hash, "contents")
	add(!slices.EqualFunc(a.NamedStreams(), b.NamedStreams(), func(x, y wim.Stream) bool {
		return x.Name == y.Name && x.Hash == y.Hash
	}), "streams")
	add(a.Attributes != b.Attributes, "attributes")
	add(a.LastWriteTime != b.LastWriteTime, "mtime")
	add(a.CreationTime != b.CreationTime, "creation-time")
	add(au != nil && bu != nil && au.Rdev != bu.Rdev, "device")
	add((au == nil) != (bu == nil) || au != nil && au.Mode&^unixTypeMask != bu.Mode&^unixTypeMask, "mode")
	add(au != nil && bu != nil && (au.UID != bu.UID || au.GID != bu.GID), "owner")
	add(!sameXattrs(a.Xattrs, b.Xattrs), "xattrs")
	// Descriptors by their bytes: each image numbers its own.
	add(!bytes.Equal(d.ma.Descriptor(a), d.mb.Descriptor(b)), "security")
	add(a.ShortName() != b.ShortName(), "short-name")
	// The group's paths, not LinkIDs: each image numbers its own groups.
	add(!d.sameLinks(a, b), "links")
	return what
}

// unixTypeMask is the file type bits of a UNIX mode (S_IFMT).
const unixTypeMask = 0o170000

// sameLinks reports whether a, of image d.ma, and b, of image d.mb, have
// the same other names (hard link groups, by their paths).
func (d *differ) sameLinks(a, b *wim.Entry) bool {
	ga, gb := groupOf(d.la, a), groupOf(d.lb, b)
	if ga == nil || gb == nil {
		return ga == nil && gb == nil
	}
	key := [2]uint64{a.LinkID, b.LinkID}
	same, ok := d.sameGroup[key]
	if !ok {
		same = slices.Equal(ga, gb)
		d.sameGroup[key] = same
	}
	return same
}

// sameXattrs reports whether x and y hold the same attributes, in any
// order: the order listxattr gives changes when one is set again.
func sameXattrs(x, y []wim.Xattr) bool {
	if len(x) != len(y) {
		return false
	}
	byName := func(a, b wim.Xattr) int { return strings.Compare(a.Name, b.Name) }
	xs, ys := slices.SortedFunc(slices.Values(x), byName), slices.SortedFunc(slices.Values(y), byName)
	return slices.EqualFunc(xs, ys, func(a, b wim.Xattr) bool {
		return a.Name == b.Name && bytes.Equal(a.Value, b.Value)
	})
}
