package main

import (
	"path/filepath"
	"runtime"
	"strings"

	"github.com/wimsnap/wimsnap/snapshot"
)

// sourceSpellings returns the values of a --path filter in the forms a
// snapshot's recorded source may take: each as given (a source recorded
// by another host, in its own spelling) and, when that differs, as the
// snapshot command records a source of this host: absolute (a relative
// one from the working directory), cleaned and on Windows without a \\?\
// prefix (snapshot.PlainPath), so that "/srv/",
// "/srv/./data/.." and a relative "srv" name the source "/srv".
func sourceSpellings(paths []string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, p)
		if abs, err := filepath.Abs(snapshot.PlainPath(p)); err == nil && abs != p {
			out = append(out, abs)
		}
	}
	return out
}

// sourceKeys returns the keys of snapshots' sources (Manifest.SourceKey)
// a --path filter matches: its sourceSpellings, and for a path given with
// a final separator, those of a tree (snapshot.TreeKey), so that
// /srv/x.wim#1/ names the directory of that name and /srv/x.wim#1 the
// image imported from /srv/x.wim.
func sourceKeys(paths []string) []string {
	var out []string
	for _, p := range paths {
		trimmed := strings.TrimRightFunc(p, func(r rune) bool { return r == '/' || r == filepath.Separator })
		if trimmed == p || snapshot.TreeKey(trimmed) == trimmed {
			out = append(out, sourceSpellings([]string{p})...)
			continue
		}
		for _, s := range sourceSpellings([]string{trimmed}) {
			out = append(out, snapshot.TreeKey(s))
		}
	}
	return out
}

// pathsFoldCase reports whether this system's paths compare without
// regard to letter case (Windows: C:\Data and c:\data are one directory).
const pathsFoldCase = runtime.GOOS == "windows"

// samePath reports whether the cleaned paths a and b name one path,
// letter case folded (Unicode simple folding) when fold is set.
func samePath(a, b string, fold bool) bool {
	if fold {
		return strings.EqualFold(a, b)
	}
	return a == b
}
