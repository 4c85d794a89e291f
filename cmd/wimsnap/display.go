package main

import (
	"strconv"
	"unicode/utf8"
)

// printable returns path, or another string that came from a file system
// or a user (a host name, an image name, a tag), as text output prints it:
// unchanged when every character is printable, else quoted with Go's
// escapes ("/a\nb", "/\xff"), so that a name holding a newline, a tab, a
// terminal escape sequence, a bidirectional override or bytes that are not
// UTF-8 cannot break a listing into lines or columns or spoof the terminal.
// A string that begins with '"' is quoted too, so that a quoted string never
// looks like one printed as it is. --json keeps the exact bytes (path_bytes).
func printable(path string) string {
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
