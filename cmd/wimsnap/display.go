package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/wimsnap/wimsnap/wim"
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

// envValue returns the value of an environment variable, a path, as a
// message names it: in double quotes, its backslashes as they are (a
// Windows path, "C:\Windows", not "C:\\Windows"), unless printable has to
// quote it with escapes.
func envValue(s string) string {
	if p := printable(s); p != s {
		return p
	}
	return `"` + s + `"`
}

// textEscaped returns s as the text of an image's XML information can
// hold it (wim.CheckText): each byte that is not UTF-8, and each control
// character other than white space, replaced by its Go escape ("\xe9",
// "\x01"), as oneLine writes it; any other s is returned as it is.
func textEscaped(s string) string {
	if wim.CheckText(s) == nil {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], string(utf8.RuneError)):
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case wim.IsTextControl(r):
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// oneLine returns msg, an error's text that may hold a path or a name as
// it came (an os.PathError's), with each character that is not printable
// replaced by its Go escape ("\n", "\x1b", "\u202e") and each byte that is
// not UTF-8 by "\xff", so that the message stays one line on a terminal
// and cannot forge another. Printable text, backslashes included, is kept
// as it is: the line is for a person, not for parsing (--json is).
func oneLine(msg string) string {
	if printable(msg) == msg { // nothing to escape (printable quotes a leading '"' too)
		return msg
	}
	var b strings.Builder
	for i, r := range msg {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(msg[i:], string(utf8.RuneError)):
			fmt.Fprintf(&b, "\\x%02x", msg[i])
		case !strconv.IsPrint(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// printableApart returns a printable for the listing of paths: a path that
// another of the list spells otherwise but that is the same text under
// Unicode canonical equivalence (NFC "é" U+00E9 and NFD "e" U+0301, which
// a terminal shows alike) prints quoted with every character that is not
// ASCII escaped ("caf\u00e9", "cafe\u0301"), so that a rename between
// the two does not read as a file removed and added unchanged; every
// other path prints as printable has it.
func printableApart(paths []string) func(string) string {
	spellings := map[string]map[string]bool{} // NFC -> the paths of that text
	for _, p := range paths {
		k := norm.NFC.String(p)
		if spellings[k] == nil {
			spellings[k] = map[string]bool{}
		}
		spellings[k][p] = true
	}
	return func(p string) string {
		if len(spellings[norm.NFC.String(p)]) > 1 {
			return strconv.QuoteToASCII(p)
		}
		return printable(p)
	}
}
