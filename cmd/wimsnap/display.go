package main

import (
	"strconv"
	"unicode/utf8"
)

// displayPath returns path as text output prints it: unchanged when every
// character is printable, else quoted with Go's escapes ("/a\nb",
// "/\xff"), so that a name holding a newline, a terminal escape sequence, a
// bidirectional override or bytes that are not UTF-8 cannot break a listing
// into lines or spoof the terminal. Paths begin with '/' and quoted ones
// with '"', so the two never look alike; a path that itself begins with '"'
// is quoted too. --json keeps the exact bytes (path_bytes).
func displayPath(path string) string {
	if path != "" && path[0] == '"' {
		return strconv.Quote(path)
	}
	for i, r := range path {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(path[i:]); n == 1 {
				return strconv.Quote(path)
			}
		}
		if !strconv.IsPrint(r) {
			return strconv.Quote(path)
		}
	}
	return path
}
