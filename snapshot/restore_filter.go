package snapshot

import (
	"errors"
	"fmt"
	"path"
	"runtime"
	"slices"
	"strings"
	"unsafe"

	"github.com/wimsnap/wimsnap/wim"
)

// Filter selects paths of an image for restore. A pattern with a '/' is
// matched (path.Match) against the whole path from the image root, which
// starts with '/' (a pattern without a leading '/' gets one, and it is
// cleaned: "./docs", "//docs" and "docs/" are "/docs"); a pattern without
// '/' against the base name. "[!...]" negates a class, as in sh, and so
// does Match's "[^...]". A path matched by a pattern selects its whole
// subtree; "/" matches every path, so that excluding it restores and
// deletes nothing and including it everything. On Windows patterns ignore
// case. Use Normalized before matching.
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

// Validate reports a malformed pattern (an empty one, a '[' without its
// ']', a '\' that ends it), saying how to match '[', '*', '?' or '\'
// themselves, which a file name may hold.
func (f Filter) Validate() error {
	for _, p := range append(append([]string{}, f.Include...), f.Exclude...) {
		if p == "" {
			return errors.New(`bad pattern "": empty`)
		}
		if _, err := path.Match(filterPattern(p), "/"); err != nil {
			return fmt.Errorf(`bad pattern %q: a malformed [...] or a '\' at its end (\[ \* \? \\ match those characters themselves)`, p)
		}
	}
	return nil
}

// patternCase returns the pattern or name s in the case in which they are
// compared: on Windows, whose names ignore case (a rollback deletes the
// names the image lacks in any case), in upper case, as the rollback
// compares names; elsewhere as it is.
func patternCase(s string) string {
	if runtime.GOOS == "windows" {
		return strings.ToUpper(s)
	}
	return s
}

func filterPattern(p string) string {
	p = shellClasses(p)
	switch {
	case !strings.Contains(p, "/"):
		return p
	case p[0] == '/':
		return path.Clean(p) // no copy for a pattern normalized already
	}
	return path.Clean("/" + p)
}

// shellClasses returns p with its character classes written as sh reads
// them in path.Match's syntax (shellClass). A '[' that opens no class (no
// ']' closes it: "a[]b", "[!]"), or names a class sh lacks, makes the
// whole pattern one that Match refuses (a '\\' at its end), for Validate
// to name the escape, where sh would match it as itself: more likely a
// mistake in a filter that --delete obeys. Translating its own output
// again changes nothing (filterPattern runs twice on a pattern). p itself
// when it has no '['.
func shellClasses(p string) string {
	if !strings.Contains(p, "[") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\' && i+1 < len(p):
			b.WriteString(p[i : i+2]) // the next character is itself
			i++
		case c == '[':
			class, n, ok := shellClass(p[i:])
			if !ok {
				return p + `\` // refused: see above
			}
			b.WriteString(class)
			i += n - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// shellClass translates the character class that starts p ("[...]") from
// sh's reading into path.Match's, and returns it with its length in p;
// false when no ']' closes it. sh negates with '!' as well as '^' (Match
// reads '!' as a member: the opposite set); a ']' first, or a '-' first,
// last or after a named class, is a member (Match refuses them, or reads
// a range: escaped); and a named class ("[:digit:]") is its ASCII ranges
// (Match has none: it read "[:digit:]" as members). An unknown name opens
// no class.
func shellClass(p string) (string, int, bool) {
	var b strings.Builder
	b.WriteByte('[')
	i := 1
	if i < len(p) && (p[i] == '!' || p[i] == '^') {
		b.WriteByte('^')
		i++
	}
	named := false // the element before was a named class
	for first := true; i < len(p); first = false {
		c := p[i]
		switch {
		case c == ']' && !first:
			b.WriteByte(']')
			return b.String(), i + 1, true
		case c == ']' || c == '-' && (first || named || i+1 < len(p) && p[i+1] == ']'):
			b.WriteByte('\\')
			b.WriteByte(c)
			i++
		case c == '\\' && i+1 < len(p):
			b.WriteString(p[i : i+2])
			i += 2
		case c == '[' && strings.HasPrefix(p[i+1:], ":"):
			end := strings.Index(p[i+2:], ":]")
			if end < 0 {
				return "", 0, false
			}
			ranges, ok := namedClasses[p[i+2:i+2+end]]
			if !ok {
				return "", 0, false
			}
			b.WriteString(ranges)
			i += 2 + end + 2
			named = true
			continue
		default:
			b.WriteByte(c)
			i++
		}
		named = false
	}
	return "", 0, false
}

// namedClasses are sh's named character classes as path.Match ranges, in
// the C locale, less '/', which no name holds (a '/' in a pattern makes it
// one of the whole path), and none beginning with '!', '^', ']' or '-',
// which would read otherwise first in a class.
var namedClasses = map[string]string{
	"alnum": "0-9A-Za-z", "alpha": "A-Za-z", "digit": "0-9", "lower": "a-z", "upper": "A-Z",
	"xdigit": "0-9A-Fa-f", "space": " \t\n\v\f\r", "blank": " \t", "punct": "\"-.:-@\\[-`{-~!",
	"print": " -.0-~", "graph": "\"-.0-~!", "cntrl": "\x01-\x1f\x7f",
}

// matchFilter reports whether p or one of its ancestors matches a pattern;
// "/" matches every path, the root's too.
func matchFilter(patterns []string, p string) bool {
	if len(patterns) == 0 {
		return false // what a restore without filters asks of every path it deletes
	}
	for _, pat := range patterns {
		if filterPattern(pat) == "/" {
			return true
		}
	}
	// p and its ancestors, as prefixes of p: path.Dir cleaned each again,
	// which made a deletion deep in a tree cost the cube of its depth.
	q := path.Clean(p)
	for q != "/" && q != "" {
		if matchSelf(patterns, q) {
			return true
		}
		i := strings.LastIndexByte(q, '/')
		if i <= 0 {
			break
		}
		q = q[:i]
	}
	return false
}

// matchSelf reports whether p itself (not an ancestor) matches a pattern:
// the whole path, or its base name for a pattern without '/'. "/" matches
// every path.
func matchSelf(patterns []string, p string) bool {
	for _, pat := range patterns {
		pat = filterPattern(pat)
		if pat == "/" {
			return true // every path is below the root
		}
		target := p
		if !strings.Contains(pat, "/") {
			target = path.Base(p)
		}
		if ok, _ := path.Match(patternCase(pat), patternCase(target)); ok {
			return true
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
		if strings.Count(p, "/") >= len(comps) {
			continue // deeper than the pattern (and no split of a deep path)
		}
		have := strings.Split(strings.TrimPrefix(p, "/"), "/")
		ok := true
		for i, c := range have {
			if m, _ := path.Match(patternCase(comps[i]), patternCase(c)); !m {
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
	out, _ := f.prune(root, new([]byte), false, passages, nil)
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
	out, _ := f.prune(root, new([]byte), false, passages, isDir)
	return out, passages
}

// prune returns the copy of e, at the path *buf holds ("" for the root),
// that f keeps, and whether e is kept; included says an ancestor matched
// Include (none matched Exclude, or prune would not be here). Passages are
// recorded in passages; isDir, if not nil, keeps the directories that the
// target has (see SelectDeleting).
//
// The path is one buffer, extended for each child and cut back after it,
// and matched as it is (each pattern against the entry itself, the
// ancestors' matches coming down), so that a tree thousands of levels deep
// costs neither a copy of every ancestor's path nor a match of every
// ancestor at every entry.
func (f Filter) prune(e *wim.Entry, buf *[]byte, included bool, passages map[*wim.Entry]bool, isDir func(string) bool) (*wim.Entry, bool) {
	p := "/"
	if len(*buf) > 0 {
		p = unsafe.String(unsafe.SliceData(*buf), len(*buf)) // not kept past the children's loop, which changes buf
	}
	if p != "/" && matchSelf(f.Exclude, p) {
		return nil, false
	}
	included = included || len(f.Include) == 0 || p != "/" && matchSelf(f.Include, p)
	if p != "/" && included && len(f.Exclude) == 0 {
		return e, true // the whole subtree
	}
	selected := p != "/" && included
	if !e.IsDir() {
		return e, selected
	}
	if !selected && !prefixOfMatch(f.Include, p) {
		return nil, false
	}
	root := p == "/"
	// A directory the target lacks has no subdirectory there either.
	probed := isDir != nil && !selected && !root && isDir(p)
	if !probed && !root {
		isDir = nil
	}
	cp := *e
	cp.Children = nil
	parent := len(*buf)
	for _, c := range e.Children {
		*buf = append(append((*buf)[:parent], '/'), c.Name...)
		if k, ok := f.prune(c, buf, included, passages, isDir); ok {
			cp.Children = append(cp.Children, k)
		}
	}
	*buf = (*buf)[:parent]
	if !selected && (!root || len(f.Include) > 0 || f.excludesAll()) {
		passages[&cp] = true
	}
	return &cp, selected || len(cp.Children) > 0 || root || probed
}
