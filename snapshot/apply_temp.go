package snapshot

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// This file names the temporary files an in-place apply writes before it
// renames them over the files they replace, on every platform.

// tempPrefix starts the names of files being written in place; a run
// adds its own token, so leftovers of an interrupted run are recognised.
const tempPrefix = ".wimsnap-"

func newRunToken() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail (Go 1.24 and later)
	return hex.EncodeToString(b[:])
}

// isTempName reports whether name is a temporary file of some run: the
// prefix, a token of 12 hex digits, '-', a decimal number and ".tmp", and
// nothing looser, which a user's own file could match.
func isTempName(name string) bool {
	rest, ok := strings.CutPrefix(name, tempPrefix)
	if !ok {
		return false
	}
	if rest, ok = strings.CutSuffix(rest, ".tmp"); !ok || len(rest) < 14 || rest[12] != '-' {
		return false
	}
	return isDigits(rest[:12], "0123456789abcdef") && isDigits(rest[13:], "0123456789")
}

// isDigits reports whether s is one or more of the given digits.
func isDigits(s, digits string) bool {
	return s != "" && strings.Trim(s, digits) == ""
}
