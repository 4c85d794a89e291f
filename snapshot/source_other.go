//go:build !windows

package snapshot

// foldCase reports whether paths compare without regard to letter case.
const foldCase = false

// PlainPath returns p: a UNIX path has no prefix to drop.
func PlainPath(p string) string { return p }

// realCase returns p: a UNIX path has one spelling.
func realCase(p string) string { return p }
