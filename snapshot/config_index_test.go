package snapshot

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// TestPatternIndexAgrees: the index answers as trying every pattern does,
// for random patterns and paths of a few letters in both cases, wildcards,
// and letters beyond ASCII, those that fold to ASCII ones among them.
func TestPatternIndexAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "B", "log", "LOG", ".", "*", "?", "K", "\u212a", "\u017f", "x.log", "é", "i", "I", "\u0130", "\u0131", "s"}
	word := func() string {
		var b strings.Builder
		for range 1 + rng.IntN(3) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	path := func(wild bool) (string, int) {
		n := 1 + rng.IntN(3)
		comps := make([]string, n)
		for i := range comps {
			comps[i] = word()
			if !wild {
				comps[i] = strings.NewReplacer("*", "s", "?", "q").Replace(comps[i])
			}
		}
		return strings.Join(comps, "/"), n
	}
	for range 300 {
		var ps []pattern
		for range 20 + rng.IntN(20) {
			p, _ := path(true)
			if rng.IntN(2) == 0 {
				p = "/" + p
			}
			if pat, err := parseGlob(p); err == nil { // as a config takes it: not "." alone
				ps = append(ps, pat)
			}
		}
		x := newPatternIndex(ps)
		for range 50 {
			p, depth := path(false)
			if got, want := x.match(p, depth), matchAny(ps, p, depth); got != want {
				t.Fatalf("path %q: index says %v, the patterns %v (%+v)", p, got, want, ps)
			}
		}
	}
}

// BenchmarkExcludedManyPatterns measures Excluded of a file against 2000
// patterns of the kinds a long exclusion list holds.
func BenchmarkExcludedManyPatterns(b *testing.B) {
	var globs []string
	for i := range 700 {
		globs = append(globs, `\nowhere`+strings.Repeat("x", i%7)+`\path`, "*.ext"+strings.Repeat("y", i%5), "name"+strings.Repeat("z", i%9))
	}
	c := &Config{}
	if err := c.Exclude(globs...); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c.Excluded("usr/share/doc/package/changelog.gz", false)
	}
}

// TestASCIIFold: asciiFold holds every letter beyond ASCII that foldEqual
// takes for an ASCII one, mapped to that letter in lower case.
func TestASCIIFold(t *testing.T) {
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		for c := rune(0); c < utf8.RuneSelf; c++ {
			if !foldEqual(c, r, string(c), string(r)) {
				continue
			}
			if got, ok := asciiFold[r]; !ok || rune(got) != unicode.ToLower(c) {
				t.Errorf("%U folds to %q: asciiFold has %q, %v", r, c, got, ok)
			}
		}
	}
}
