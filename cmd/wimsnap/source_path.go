package main

import "path/filepath"

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
