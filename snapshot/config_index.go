package snapshot

import "strings"

// patternIndex finds which of many exclusion patterns match a path without
// trying each: the common kinds of a long [ExclusionList] (an absolute
// path, a name, "*.ext") are looked up by the path's own text, so that a
// capture with thousands of patterns costs about what one with a few does.
// Only patterns and paths in ASCII are looked up, where case-insensitive
// equality is a plain lower-casing (globMatch's folding matches some
// non-ASCII letters to ASCII ones, 'K' the Kelvin sign to 'k'); a path
// with other characters is matched against every pattern.
type patternIndex struct {
	all      []pattern
	anchored map[string]struct{}         // absolute literal paths, lower case, '/'-joined without the leading '/'
	names    map[string]struct{}         // literal names matched at any depth, lower case
	suffixes map[int]map[string]struct{} // "*" and a literal ("*.log"): the literals by length, lower case
	// byFirst holds the other names matched at any depth that begin with
	// an ASCII character other than a wildcard ("name*x?"), by that
	// character in lower case: a name tries those of its first character.
	byFirst map[byte][]pattern
	rest    []pattern // the others, tried one by one
}

// newPatternIndex indexes ps.
func newPatternIndex(ps []pattern) *patternIndex {
	x := &patternIndex{all: ps, anchored: map[string]struct{}{}, names: map[string]struct{}{}, suffixes: map[int]map[string]struct{}{},
		byFirst: map[byte][]pattern{}}
	for _, p := range ps {
		switch {
		case p.anchored && allLiteral(p.comps):
			x.anchored[strings.ToLower(strings.Join(p.comps, "/"))] = struct{}{}
		case !p.anchored && len(p.comps) == 1 && allLiteral(p.comps):
			x.names[strings.ToLower(p.comps[0])] = struct{}{}
		case !p.anchored && len(p.comps) == 1 && len(p.comps[0]) > 1 && p.comps[0][0] == '*' && allLiteral([]string{p.comps[0][1:]}):
			lit := strings.ToLower(p.comps[0][1:])
			if x.suffixes[len(lit)] == nil {
				x.suffixes[len(lit)] = map[string]struct{}{}
			}
			x.suffixes[len(lit)][lit] = struct{}{}
		case !p.anchored && len(p.comps) == 1 && p.comps[0][0] < 0x80 && p.comps[0][0] != '*' && p.comps[0][0] != '?':
			first := lowerByte(p.comps[0][0])
			x.byFirst[first] = append(x.byFirst[first], p)
		default:
			x.rest = append(x.rest, p)
		}
	}
	return x
}

// allLiteral reports whether the components comps hold ASCII alone and no
// wildcard.
func allLiteral(comps []string) bool {
	for _, c := range comps {
		if !isASCII(c) || strings.ContainsAny(c, "*?") {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// match is matchAny(x's patterns, path, depth): path has depth components.
func (x *patternIndex) match(path string, depth int) bool {
	if !isASCII(path) {
		return matchAny(x.all, path, depth)
	}
	var buf [256]byte
	lower := appendLower(buf[:0], path)
	if _, ok := x.anchored[string(lower)]; ok {
		return true
	}
	base := lower[strings.LastIndexByte(path, '/')+1:]
	if _, ok := x.names[string(base)]; ok {
		return true
	}
	for n, lits := range x.suffixes {
		if len(base) >= n {
			if _, ok := lits[string(base[len(base)-n:])]; ok {
				return true
			}
		}
	}
	if len(base) > 0 && matchAny(x.byFirst[base[0]], path, depth) {
		return true
	}
	return matchAny(x.rest, path, depth)
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// appendLower appends s, ASCII, in lower case to b.
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		b = append(b, lowerByte(s[i]))
	}
	return b
}
