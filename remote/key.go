package remote

import (
	"context"
	"fmt"
	"strings"
)

// MaxKeyLen is the longest valid key in bytes (S3's limit).
const MaxKeyLen = 1024

// maxComponentLen is the longest component of a key in bytes (the common
// file-name limit).
const maxComponentLen = 255

// ValidKey reports whether key is a valid object key, returning nil or an
// error wrapping ErrInvalidKey that says what is wrong. A valid key is at
// most MaxKeyLen bytes of one or more components joined by single slashes;
// each component is at most 255 bytes of ASCII letters, digits, '-', '_'
// and '.', and does not start with '.'. So "", "/abs", "a/", "a//b", ".",
// "a/../b" and "a/.tmp-x" are invalid.
func ValidKey(key string) error {
	if reason := keyProblem(key); reason != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, reason)
	}
	return nil
}

func keyProblem(key string) string {
	switch {
	case key == "":
		return "empty"
	case len(key) > MaxKeyLen:
		return fmt.Sprintf("longer than %d bytes", MaxKeyLen)
	case key[0] == '/':
		return "absolute"
	}
	for c := range strings.SplitSeq(key, "/") {
		if reason := componentProblem(c); reason != "" {
			return reason
		}
	}
	return ""
}

func componentProblem(c string) string {
	switch {
	case c == "":
		return "empty component"
	case len(c) > maxComponentLen:
		return fmt.Sprintf("component longer than %d bytes", maxComponentLen)
	case c[0] == '.':
		return "component starts with '.'"
	}
	for i := 0; i < len(c); i++ {
		if !keyByte(c[i]) {
			return fmt.Sprintf("byte %q not allowed", c[i])
		}
	}
	return ""
}

func keyByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		b == '-' || b == '_' || b == '.'
}

// validPrefix checks a List prefix: "" or a valid key with at most one
// trailing slash.
func validPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if reason := keyProblem(strings.TrimSuffix(prefix, "/")); reason != "" {
		return fmt.Errorf("%w: prefix %q: %s", ErrInvalidKey, prefix, reason)
	}
	return nil
}

// checkKey validates key for operation op, and checks ctx.
func checkKey(ctx context.Context, op, key string) error {
	if reason := keyProblem(key); reason != "" {
		return fmt.Errorf("%s %q: %w: %s", op, key, ErrInvalidKey, reason)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, key, err)
	}
	return nil
}
