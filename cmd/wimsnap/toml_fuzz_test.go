package main

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseTOML checks that parseTOML never panics, that an error names a line of the
// document, and that an accepted document holds only the documented value types.
func FuzzParseTOML(f *testing.F) {
	for _, tc := range tomlGoodCases() {
		f.Add([]byte(tc.doc))
	}
	for _, tc := range tomlBadCases() {
		f.Add([]byte(tc.doc))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseTOML(b)
		if err != nil {
			checkTOMLError(t, b, err)
			return
		}
		checkTOMLValue(t, got, 0)
		if len(b) < tomlMaxSize {
			// An accepted document ends at a line boundary, so a new line changes nothing.
			again, err := parseTOML(append(bytes.Clone(b), '\n'))
			if err != nil || fmt.Sprint(again) != fmt.Sprint(got) {
				t.Fatalf("with a new line appended: %v, %v; want %v", again, err, got)
			}
		}
	})
}

// checkTOMLError fails t unless err is errTOMLTooLarge or a *tomlError naming a line of b
// whose number grows by one when a comment line is put in front of b.
func checkTOMLError(t *testing.T, b []byte, err error) {
	t.Helper()
	if errors.Is(err, errTOMLTooLarge) {
		if len(b) <= tomlMaxSize {
			t.Fatalf("errTOMLTooLarge for %d bytes", len(b))
		}
		return
	}
	var te *tomlError
	if !errors.As(err, &te) {
		t.Fatalf("error %v (%T) is not a *tomlError", err, err)
	}
	if lines := bytes.Count(b, []byte("\n")) + 1; te.Line < 1 || te.Line > lines {
		t.Fatalf("error %q names line %d of a %d-line document", err, te.Line, lines)
	}
	if !strings.HasPrefix(err.Error(), "line "+strconv.Itoa(te.Line)+": ") {
		t.Fatalf("error %q does not start with its line", err)
	}
	if len(b)+2 > tomlMaxSize || bytes.HasPrefix(b, []byte("\uFEFF")) {
		return // a byte order mark is only skipped at the very start
	}
	_, err = parseTOML(append([]byte("#\n"), b...))
	var shifted *tomlError
	if !errors.As(err, &shifted) || shifted.Line != te.Line+1 || shifted.Msg != te.Msg {
		t.Fatalf("after a comment line: %v; want line %d: %s", err, te.Line+1, te.Msg)
	}
}

// checkTOMLValue fails t unless v and everything in it has a type parseTOML documents,
// strings and keys are valid UTF-8, and nesting stays within the limit.
func checkTOMLValue(t *testing.T, v any, depth int) {
	t.Helper()
	if depth > 2*tomlMaxDepth {
		t.Fatalf("values nested %d deep", depth)
	}
	switch v := v.(type) {
	case string:
		if !utf8.ValidString(v) {
			t.Fatalf("string %q is not valid UTF-8", v)
		}
	case int64, bool, float64, time.Time:
	case []any:
		for _, e := range v {
			checkTOMLValue(t, e, depth+1)
		}
	case map[string]any:
		if v == nil {
			t.Fatal("nil table")
		}
		for k, e := range v {
			checkTOMLValue(t, k, depth+1)
			checkTOMLValue(t, e, depth+1)
		}
	case []map[string]any:
		if len(v) == 0 {
			t.Fatal("empty array of tables")
		}
		for _, m := range v {
			checkTOMLValue(t, m, depth+1)
		}
	default:
		t.Fatalf("value %#v of type %T", v, v)
	}
}
