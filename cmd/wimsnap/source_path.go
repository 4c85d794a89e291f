package main

import (
	"path/filepath"
	"runtime"
	"strings"
)

// sourceSpellings returns the values of a --path filter in the forms a
// snapshot's recorded source may take: each as given (a source recorded
// by another host, in its own spelling) and, when that differs, as the
// snapshot command records a source of this host: absolute (a relative
// one from the working directory) and cleaned, so that "/srv/",
// "/srv/./data/.." and a relative "srv" name the source "/srv".
func sourceSpellings(paths []string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, p)
		if abs, err := filepath.Abs(p); err == nil && abs != p {
			out = append(out, abs)
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
