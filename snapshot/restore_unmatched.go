package snapshot

import (
	"errors"
	"unsafe"

	"github.com/wimsnap/wimsnap/wim"
)

// ErrNoMatch is the warning Restore gives, through ApplyOptions.Warn with
// the pattern as the path, for an Include pattern that matches no path of
// the snapshot. The restore goes on: a pattern may still select what
// Delete removes from the target.
var ErrNoMatch = errors.New("snapshot: include pattern matches nothing in the snapshot")

// Unmatched returns the Include patterns, as given, that match no path of
// the tree root (Exclude is not considered), in their order. "/" always
// matches. Patterns that mean the same ("/etc" given twice, or as "etc/"
// and "//etc") are one pattern: only its first spelling is returned. Only
// the directories that may hold a match are walked, and the walk for a
// pattern stops at its first match.
func (f Filter) Unmatched(root *wim.Entry) []string {
	var out []string
	seen := make(map[string]bool, len(f.Include))
	buf := make([]byte, 0, 256)
	for _, pat := range f.Include {
		norm := filterPattern(pat)
		if seen[norm] {
			continue
		}
		seen[norm] = true
		if norm != "/" && !anyMatch([]string{pat}, root, &buf) {
			out = append(out, pat)
		}
	}
	return out
}

// anyMatch reports whether a path below the directory e, at the path *buf
// holds ("" for the root), matches one of patterns. The path is one buffer
// extended for each child and cut back after it, as in Filter.prune.
func anyMatch(patterns []string, e *wim.Entry, buf *[]byte) bool {
	parent := len(*buf)
	defer func() { *buf = (*buf)[:parent] }()
	for _, c := range e.Children {
		*buf = append(append((*buf)[:parent], '/'), c.Name...)
		p := unsafe.String(unsafe.SliceData(*buf), len(*buf)) // not kept past this iteration
		if matchSelf(patterns, p) {
			return true
		}
		if c.IsDir() && prefixOfMatch(patterns, p) && anyMatch(patterns, c, buf) {
			return true
		}
	}
	return false
}
