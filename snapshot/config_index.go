package snapshot

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// patternIndex finds which of many exclusion patterns match a path without
// trying each: the common kinds of a long [ExclusionList] (an absolute
// path, a name, "*.ext") are looked up by the path's own text, so that a
// capture with thousands of patterns costs about what one with a few does.
// Only patterns in ASCII are looked up, by the path folded as globMatch
// compares it (appendFold): ASCII in lower case, and the four letters beyond
// ASCII that fold to ASCII ones ('K' the Kelvin sign to 'k') as those.
type patternIndex struct {
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
	x := &patternIndex{anchored: map[string]struct{}{}, names: map[string]struct{}{}, suffixes: map[int]map[string]struct{}{},
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
	var buf [256]byte
	lower := appendFold(buf[:0], path)
	if _, ok := x.anchored[string(lower)]; ok {
		return true
	}
	base := lower[bytes.LastIndexByte(lower, '/')+1:]
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

// appendFold appends s to b as the index looks it up: ASCII in lower
// case, the letters beyond ASCII that globMatch (foldEqual) takes for
// ASCII ones as those, and any other byte as it is, which no ASCII
// pattern's byte equals.
func appendFold(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			b = append(b, lowerByte(s[i]))
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if c, ok := asciiFold[r]; ok {
			b = append(b, c)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return b
}

// asciiFold maps the letters beyond ASCII that foldEqual takes for ASCII
// letters to those, in lower case (TestASCIIFold checks the list).
var asciiFold = map[rune]byte{'\u0130': 'i', '\u0131': 'i', '\u017f': 's', '\u212a': 'k'}
