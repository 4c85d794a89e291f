package snapshot

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/wimsnap/wimsnap/wim"
)

// Filter selects paths of an image for restore. A pattern with a '/' is
// matched (path.Match) against the whole path from the image root, which
// starts with '/' (a pattern without a leading '/' gets one, and it is
// cleaned: "./docs", "//docs" and "docs/" are "/docs"); a pattern without
// '/' against the base name. A path matched by a pattern selects its whole
// subtree; "/" matches every path, so that excluding it restores and
// deletes nothing and including it everything. Use Normalized before
// matching.
type Filter struct {
	Include, Exclude []string
}

// Normalized returns f with its patterns in the form matching uses
// (filterPattern), and without Include when one of them is "/" (all).
func (f Filter) Normalized() Filter {
	norm := func(ps []string) []string {
		out := make([]string, 0, len(ps))
		for _, p := range ps {
			out = append(out, filterPattern(p))
		}
		return out
	}
	n := Filter{Include: norm(f.Include), Exclude: norm(f.Exclude)}
	if slices.Contains(n.Include, "/") {
		n.Include = nil
	}
	return n
}

// excludesAll reports whether f excludes every path.
func (f Filter) excludesAll() bool { return slices.Contains(f.Exclude, "/") }

// Validate reports a malformed pattern.
func (f Filter) Validate() error {
	for _, p := range append(append([]string{}, f.Include...), f.Exclude...) {
		if _, err := path.Match(filterPattern(p), "/"); err != nil || p == "" {
			return fmt.Errorf("snapshot: bad pattern %q", p)
		}
	}
	return nil
}

func filterPattern(p string) string {
	if !strings.Contains(p, "/") {
		return p
	}
	return path.Clean("/" + p)
}

// matchAny reports whether p or one of its ancestors matches a pattern.
func matchFilter(patterns []string, p string) bool {
	for _, pat := range patterns {
		pat = filterPattern(pat)
		if pat == "/" {
			return true // every path is below the root
		}
		for q := p; q != "/" && q != ""; q = path.Dir(q) {
			target := q
			if !strings.Contains(pat, "/") {
				target = path.Base(q)
			}
			if ok, _ := path.Match(pat, target); ok {
				return true
			}
		}
	}
	return false
}

// prefixOfMatch reports whether the directory p may hold a path an include
// pattern with '/' matches, so that it must be kept for its children.
func prefixOfMatch(patterns []string, p string) bool {
	if len(patterns) == 0 || p == "/" {
		return true
	}
	for _, pat := range patterns {
		pat = filterPattern(pat)
		if !strings.Contains(pat, "/") {
			return true // a base-name pattern may match anywhere below
		}
		comps := strings.Split(strings.TrimPrefix(pat, "/"), "/")
		have := strings.Split(strings.TrimPrefix(p, "/"), "/")
		if len(have) >= len(comps) {
			continue
		}
		ok := true
		for i, c := range have {
			if m, _ := path.Match(comps[i], c); !m {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// Selected reports whether the entry at p is restored.
func (f Filter) Selected(p string) bool {
	if matchFilter(f.Exclude, p) {
		return false
	}
	return len(f.Include) == 0 || matchFilter(f.Include, p)
}

// Deletable reports whether an entry at p that the image lacks may be
// deleted by a restore with this filter: not excluded, and inside what is
// included.
func (f Filter) Deletable(p string) bool { return f.Selected(p) }

// Apply returns a copy of the tree root holding only the selected entries
// and the directories leading to them. The entries are shared with root.
func (f Filter) Apply(root *wim.Entry) *wim.Entry {
	out, _ := f.Select(root)
	return out
}

// Select is Apply, and also returns the passages: the directories of the
// copy that are there only to lead to selected entries, not selected
// themselves (the root, when Include is set).
func (f Filter) Select(root *wim.Entry) (*wim.Entry, map[*wim.Entry]bool) {
	if len(f.Include) == 0 && len(f.Exclude) == 0 {
		return root, nil
	}
	passages := make(map[*wim.Entry]bool)
	out, _ := f.prune(root, "/", passages, nil)
	return out, passages
}

// SelectDeleting is Select for a restore that deletes what the image lacks.
// With Include set, Deletable allows paths in directories of the image that
// hold no selected entry, which Select leaves out; SelectDeleting keeps
// such a directory as a passage too when it may hold such a path and
// isDir reports that the target has it (isDir takes the directory's path
// from the image root), so that the restore deletes the same kind of path
// in every directory, not only in those leading to a selected entry. A
// directory the target lacks holds nothing to delete and is left out, so
// that the restore does not create it.
func (f Filter) SelectDeleting(root *wim.Entry, isDir func(path string) bool) (*wim.Entry, map[*wim.Entry]bool) {
	if len(f.Include) == 0 {
		return f.Select(root)
	}
	passages := make(map[*wim.Entry]bool)
	out, _ := f.prune(root, "/", passages, isDir)
	return out, passages
}

// prune returns the copy of e, at path p, that f keeps, and whether e is
// kept. Passages are recorded in passages; isDir, if not nil, keeps the
// directories that the target has (see SelectDeleting).
func (f Filter) prune(e *wim.Entry, p string, passages map[*wim.Entry]bool, isDir func(string) bool) (*wim.Entry, bool) {
	if p != "/" && matchFilter(f.Exclude, p) {
		return nil, false
	}
	if p != "/" && (len(f.Include) == 0 || matchFilter(f.Include, p)) && len(f.Exclude) == 0 {
		return e, true // the whole subtree
	}
	selected := p != "/" && f.Selected(p)
	if !e.IsDir() {
		return e, selected
	}
	if !selected && !prefixOfMatch(f.Include, p) {
		return nil, false
	}
	// A directory the target lacks has no subdirectory there either.
	probed := isDir != nil && !selected && p != "/" && isDir(p)
	if !probed && p != "/" {
		isDir = nil
	}
	cp := *e
	cp.Children = nil
	for _, c := range e.Children {
		if k, ok := f.prune(c, path.Join(p, c.Name), passages, isDir); ok {
			cp.Children = append(cp.Children, k)
		}
	}
	if !selected && (p != "/" || len(f.Include) > 0 || f.excludesAll()) {
		passages[&cp] = true
	}
	return &cp, selected || len(cp.Children) > 0 || p == "/" || probed
}
