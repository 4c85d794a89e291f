package main

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits that bound the work and memory parseTOML spends on a hostile document.
const (
	tomlMaxSize  = 1 << 20 // bytes of input
	tomlMaxDepth = 32      // tables and arrays nested inside one another
)

// errTOMLTooLarge is returned, wrapped, for a document of more than tomlMaxSize bytes.
var errTOMLTooLarge = errors.New("toml: document is larger than 1 MiB")

// tomlError is a syntax or structure error in a TOML document.
type tomlError struct {
	Line int    // 1-based line where the error was found (where a string or array began, if unterminated)
	Msg  string // what is wrong, for a person
}

func (e *tomlError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// parseTOML reads a TOML 1.0 document into plain Go values: string, int64, bool, float64,
// time.Time (offset date-times only), []any (arrays), map[string]any (tables and inline
// tables) and []map[string]any (arrays of tables). The result shares no memory with b.
//
// Supported: comments, bare, quoted and dotted keys, [table] and [[array.of.tables]] headers
// (a [a.b] after [[a]] is a sub-table of the last element), basic and literal strings (also
// multi-line, with every TOML 1.0 escape), decimal, hexadecimal, octal and binary integers,
// floats (also inf and nan), booleans, offset date-times, arrays (multi-line, with comments and
// a trailing comma) and one-line inline tables. A leading UTF-8 byte order mark is skipped.
//
// Refused with an error: local date-times, dates and times (write an offset such as Z or a
// string instead); leap seconds; dotted keys that add to a table created by a [header], even
// one only implied by a longer header (TOML 1.0 forbids the explicit case; we refuse both);
// TOML 1.1 additions (new lines or a trailing comma in inline tables, \e and \x escapes);
// documents over 1 MiB (errTOMLTooLarge) and nesting deeper than 32 tables or arrays.
// Every other error is a *tomlError whose message starts with "line N: ".
func parseTOML(b []byte) (map[string]any, error) {
	if len(b) > tomlMaxSize {
		return nil, fmt.Errorf("%w (%d bytes)", errTOMLTooLarge, len(b))
	}
	if err := tomlCheckUTF8(b); err != nil {
		return nil, err
	}
	p := &tomlParser{src: bytes.TrimPrefix(b, []byte("\uFEFF")), line: 1}
	p.root = &tomlTable{kind: tomlDefined, vals: map[string]any{}}
	p.cur = p.root
	if err := p.document(); err != nil {
		return nil, err
	}
	return p.root.freeze(), nil
}

// tomlCheckUTF8 reports the line of the first invalid UTF-8 sequence in b.
func tomlCheckUTF8(b []byte) error {
	if utf8.Valid(b) {
		return nil
	}
	line := 1
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return &tomlError{Line: line, Msg: fmt.Sprintf("invalid UTF-8 (byte 0x%02x); save the file as UTF-8", b[i])}
		}
		if b[i] == '\n' {
			line++
		}
		i += n
	}
	return nil
}

// tomlKind records how a table came to exist, which decides what may still add to it.
type tomlKind uint8

const (
	tomlImplicit tomlKind = iota // implied by a longer header ([a] by [a.b]); a later [a] may define it
	tomlDefined                  // defined by a [header], a [[header]] element or the document root
	tomlDotted                   // created by a dotted key (a.b = 1); only more dotted keys may add to it
)

// tomlTable is a table under construction. vals holds leaf values, []any arrays,
// map[string]any inline tables (complete, closed), *tomlTable and *tomlTableArray.
type tomlTable struct {
	kind tomlKind
	vals map[string]any
}

// tomlTableArray is an array of tables built by [[header]] lines.
type tomlTableArray struct{ elems []*tomlTable }

// freeze converts t and everything under it into the plain values parseTOML returns.
func (t *tomlTable) freeze() map[string]any {
	m := make(map[string]any, len(t.vals))
	for k, v := range t.vals {
		switch v := v.(type) {
		case *tomlTable:
			m[k] = v.freeze()
		case *tomlTableArray:
			arr := make([]map[string]any, len(v.elems))
			for i, e := range v.elems {
				arr[i] = e.freeze()
			}
			m[k] = arr
		default:
			m[k] = v
		}
	}
	return m
}

// tomlParser reads one document; it is used once and by one goroutine.
type tomlParser struct {
	src     []byte
	pos     int
	line    int
	root    *tomlTable
	cur     *tomlTable // the table the current section's key/value lines go into
	curPath []string   // cur's key from the root, for messages and the depth limit
}

// errorf returns a *tomlError for the current line.
func (p *tomlParser) errorf(format string, args ...any) error {
	return p.errorAt(p.line, format, args...)
}

// errorAt returns a *tomlError for the given line.
func (p *tomlParser) errorAt(line int, format string, args ...any) error {
	return &tomlError{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// eof reports whether all the input has been read.
func (p *tomlParser) eof() bool { return p.pos >= len(p.src) }

// peek returns the current byte, or 0 at the end of the input.
func (p *tomlParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.src[p.pos]
}

// hasPrefix reports whether the unread input starts with s.
func (p *tomlParser) hasPrefix(s string) bool { return bytes.HasPrefix(p.src[p.pos:], []byte(s)) }

// atLineEnd reports whether nothing but a comment is left on the line.
func (p *tomlParser) atLineEnd() bool {
	c := p.peek()
	return p.eof() || c == '\n' || c == '\r' || c == '#'
}

// found describes the current character for an error message.
func (p *tomlParser) found() string {
	switch c := p.peek(); {
	case p.eof():
		return "the end of the file"
	case c == '\n' || c == '\r':
		return "the end of the line"
	case tomlIsControl(c):
		return fmt.Sprintf("control character U+%04X", c)
	}
	r, _ := utf8.DecodeRune(p.src[p.pos:])
	return strconv.QuoteRune(r)
}

// tomlIsControl reports whether c is a control character TOML allows only escaped.
func tomlIsControl(c byte) bool { return c < 0x20 && c != '\t' || c == 0x7f }

// skipSpace skips spaces and tabs, never new lines.
func (p *tomlParser) skipSpace() {
	for p.peek() == ' ' || p.peek() == '\t' {
		p.pos++
	}
}

// newline consumes an LF or CRLF at the current position.
func (p *tomlParser) newline() error {
	if p.peek() == '\r' {
		if !p.hasPrefix("\r\n") {
			return p.errorf("carriage return not followed by a new line")
		}
		p.pos++
	}
	p.pos++
	p.line++
	return nil
}

// comment consumes a comment up to, not including, the end of its line.
func (p *tomlParser) comment() error {
	for ; !p.eof(); p.pos++ {
		c := p.src[p.pos]
		if c == '\n' || c == '\r' {
			return nil
		}
		if tomlIsControl(c) {
			return p.errorf("%s in a comment", p.found())
		}
	}
	return nil
}

// skipBlank skips spaces, comments and new lines, as allowed between array elements.
func (p *tomlParser) skipBlank() error {
	for {
		p.skipSpace()
		var err error
		switch p.peek() {
		case '#':
			err = p.comment()
		case '\n', '\r':
			err = p.newline()
		default:
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// document reads the whole input, one expression per line.
func (p *tomlParser) document() error {
	for {
		p.skipSpace()
		if p.eof() {
			return nil
		}
		var err error
		switch p.peek() {
		case '#', '\n', '\r':
		case '[':
			err = p.header()
		default:
			err = p.keyValue()
		}
		if err == nil {
			err = p.lineEnd()
		}
		if err != nil {
			return err
		}
	}
}

// lineEnd accepts an optional comment and then the end of the line or of the input.
func (p *tomlParser) lineEnd() error {
	p.skipSpace()
	if p.peek() == '#' {
		if err := p.comment(); err != nil {
			return err
		}
	}
	if p.eof() {
		return nil
	}
	if c := p.peek(); c != '\n' && c != '\r' {
		return p.errorf("expected the end of the line, found %s", p.found())
	}
	return p.newline()
}

// keyValue reads "key = value" into the current section.
func (p *tomlParser) keyValue() error {
	line := p.line
	path, err := p.key()
	if err != nil {
		return err
	}
	full := append(p.curPath[:len(p.curPath):len(p.curPath)], path...)
	if len(full) > tomlMaxDepth {
		return p.errorf("key %s is nested deeper than %d levels", tomlKeyString(full), tomlMaxDepth)
	}
	v, err := p.assignment(full, len(full))
	if err != nil {
		return err
	}
	return p.set(p.cur, path, full, v, line)
}

// assignment reads "= value" after the key full, whose value sits at the given depth.
func (p *tomlParser) assignment(full []string, depth int) (any, error) {
	p.skipSpace()
	if p.peek() != '=' {
		return nil, p.errorf("expected '=' after key %s, found %s", tomlKeyString(full), p.found())
	}
	p.pos++
	p.skipSpace()
	if p.atLineEnd() {
		return nil, p.errorf("key %s has no value after '='", tomlKeyString(full))
	}
	return p.value(depth)
}

// key reads a possibly dotted key of at most tomlMaxDepth parts.
func (p *tomlParser) key() ([]string, error) {
	var path []string
	for {
		p.skipSpace()
		k, err := p.simpleKey()
		if err != nil {
			return nil, err
		}
		if path = append(path, k); len(path) > tomlMaxDepth {
			return nil, p.errorf("key has more than %d dotted parts", tomlMaxDepth)
		}
		p.skipSpace()
		if p.peek() != '.' {
			return path, nil
		}
		p.pos++
	}
}

// simpleKey reads one bare or quoted key.
func (p *tomlParser) simpleKey() (string, error) {
	switch c := p.peek(); c {
	case '"', '\'':
		if p.hasPrefix(strings.Repeat(string(c), 3)) {
			return "", p.errorf("a multi-line string cannot be a key")
		}
		return p.lineString(c)
	}
	start := p.pos
	for !p.eof() && tomlIsBare(p.src[p.pos]) {
		p.pos++
	}
	if p.pos == start {
		return "", p.errorf("expected a key, found %s", p.found())
	}
	return string(p.src[start:p.pos]), nil
}

// tomlIsBare reports whether c may appear in a bare key.
func tomlIsBare(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

// tomlKeyString spells a key as TOML would, quoting the parts that are not bare.
func tomlKeyString(path []string) string {
	parts := make([]string, len(path))
	for i, k := range path {
		parts[i] = k
		if k == "" || strings.IndexFunc(k, func(r rune) bool { return r > 0x7f || !tomlIsBare(byte(r)) }) >= 0 {
			parts[i] = strconv.Quote(k)
		}
	}
	return strings.Join(parts, ".")
}

// set stores v under the dotted key path in t; full is the key from the root, for messages.
func (p *tomlParser) set(t *tomlTable, path, full []string, v any, line int) error {
	for _, k := range path[:len(path)-1] {
		next, err := t.dottedChild(k)
		if err != nil {
			return p.errorAt(line, "cannot set key %s: %v", tomlKeyString(full), err)
		}
		t = next
	}
	last := path[len(path)-1]
	if _, ok := t.vals[last]; ok {
		return p.errorAt(line, "key %s is defined twice", tomlKeyString(full))
	}
	t.vals[last] = v
	return nil
}

// dottedChild returns the table a dotted key walks through at k, creating it if needed.
func (t *tomlTable) dottedChild(k string) (*tomlTable, error) {
	switch v := t.vals[k].(type) {
	case nil:
		child := &tomlTable{kind: tomlDotted, vals: map[string]any{}}
		t.vals[k] = child
		return child, nil
	case *tomlTable:
		if v.kind == tomlDotted {
			return v, nil
		}
		return nil, fmt.Errorf("%s is a table made by a [header]; add keys under that header instead", tomlKeyString([]string{k}))
	}
	return nil, fmt.Errorf("%s is %s", tomlKeyString([]string{k}), tomlDescribe(t.vals[k]))
}

// tomlDescribe names an existing value that is in the way of a table.
func tomlDescribe(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an inline table, which cannot be extended"
	case *tomlTableArray:
		return "an array of tables"
	case []any:
		return "an array value, not a table"
	}
	return "a value, not a table"
}

// header reads a [table] or [[array.of.tables]] line and makes its table current.
func (p *tomlParser) header() error {
	line := p.line
	p.pos++
	array := p.peek() == '['
	if array {
		p.pos++
	}
	path, err := p.key()
	if err != nil {
		return err
	}
	closing := "]"
	if array {
		closing = "]]"
	}
	if !p.hasPrefix(closing) {
		return p.errorf("expected %q to close the table header, found %s", closing, p.found())
	}
	p.pos += len(closing)
	name := "[" + tomlKeyString(path) + "]"
	if array {
		name = "[" + name + "]"
	}
	t := p.root
	for i, k := range path[:len(path)-1] {
		if t, err = t.headerChild(k); err != nil {
			return p.errorAt(line, "cannot open %s: %s is %v", name, tomlKeyString(path[:i+1]), err)
		}
	}
	if array {
		t, err = t.appendElem(path[len(path)-1])
	} else {
		t, err = t.define(path[len(path)-1])
	}
	if err != nil {
		return p.errorAt(line, "cannot open %s: %v", name, err)
	}
	p.cur, p.curPath = t, path
	return nil
}

// headerChild returns the table a header walks through at k: an existing table, the last
// element of an array of tables, or a new implicit table.
func (t *tomlTable) headerChild(k string) (*tomlTable, error) {
	switch v := t.vals[k].(type) {
	case nil:
		child := &tomlTable{kind: tomlImplicit, vals: map[string]any{}}
		t.vals[k] = child
		return child, nil
	case *tomlTable:
		return v, nil
	case *tomlTableArray:
		return v.elems[len(v.elems)-1], nil
	}
	return nil, errors.New(tomlDescribe(t.vals[k]))
}

// define makes k a table defined by a [header], which a table may be once.
func (t *tomlTable) define(k string) (*tomlTable, error) {
	switch v := t.vals[k].(type) {
	case nil:
		child := &tomlTable{kind: tomlDefined, vals: map[string]any{}}
		t.vals[k] = child
		return child, nil
	case *tomlTable:
		switch v.kind {
		case tomlImplicit:
			v.kind = tomlDefined
			return v, nil
		case tomlDotted:
			return nil, errors.New("it was already defined by dotted keys")
		default:
			return nil, errors.New("it is defined twice")
		}
	case *tomlTableArray:
		return nil, errors.New("it is an array of tables; [[...]] adds an element to it")
	}
	return nil, fmt.Errorf("it is already %s", tomlDescribe(t.vals[k]))
}

// appendElem adds a new table to the array of tables k, creating the array if needed.
func (t *tomlTable) appendElem(k string) (*tomlTable, error) {
	elem := &tomlTable{kind: tomlDefined, vals: map[string]any{}}
	switch v := t.vals[k].(type) {
	case nil:
		t.vals[k] = &tomlTableArray{elems: []*tomlTable{elem}}
	case *tomlTableArray:
		v.elems = append(v.elems, elem)
	case *tomlTable:
		return nil, errors.New("it is already a table, not an array of tables")
	default:
		return nil, fmt.Errorf("it is already %s", tomlDescribe(v))
	}
	return elem, nil
}

// value reads one value whose container sits at the given nesting depth.
func (p *tomlParser) value(depth int) (any, error) {
	switch c := p.peek(); c {
	case '"', '\'':
		if p.hasPrefix(strings.Repeat(string(c), 3)) {
			return p.multiLineString(c)
		}
		return p.lineString(c)
	case '[':
		return p.array(depth)
	case '{':
		return p.inlineTable(depth)
	}
	return p.scalar()
}

// array reads [v, ...]; elements may span lines and carry comments, and a trailing comma is allowed.
func (p *tomlParser) array(depth int) ([]any, error) {
	if depth > tomlMaxDepth {
		return nil, p.errorf("arrays and tables are nested deeper than %d levels", tomlMaxDepth)
	}
	start := p.line
	p.pos++
	arr := []any{}
	for {
		if err := p.skipBlank(); err != nil {
			return nil, err
		}
		if p.peek() == ']' {
			p.pos++
			return arr, nil
		}
		if p.eof() {
			return nil, p.errorAt(start, "unterminated array: no ']' before the end of the file")
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		if err := p.skipBlank(); err != nil {
			return nil, err
		}
		switch {
		case p.peek() == ',':
			p.pos++
		case p.peek() == ']':
			p.pos++
			return arr, nil
		case p.eof():
			return nil, p.errorAt(start, "unterminated array: no ']' before the end of the file")
		default:
			return nil, p.errorf("expected ',' or ']' after an array element, found %s", p.found())
		}
	}
}

// inlineTable reads { k = v, ... } on one line; it cannot be extended later.
func (p *tomlParser) inlineTable(depth int) (map[string]any, error) {
	if depth > tomlMaxDepth {
		return nil, p.errorf("arrays and tables are nested deeper than %d levels", tomlMaxDepth)
	}
	p.pos++
	t := &tomlTable{kind: tomlDefined, vals: map[string]any{}}
	p.skipSpace()
	if p.peek() == '}' {
		p.pos++
		return t.freeze(), nil
	}
	for {
		if err := p.inlineKeyValue(t, depth); err != nil {
			return nil, err
		}
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.pos++
			p.skipSpace()
			if p.peek() == '}' {
				return nil, p.errorf("trailing comma in an inline table (TOML 1.0 does not allow it)")
			}
		case '}':
			p.pos++
			return t.freeze(), nil
		default:
			return nil, p.inlineEndError("expected ',' or '}' in an inline table, found %s")
		}
	}
}

// inlineKeyValue reads one "key = value" of an inline table at depth into t.
func (p *tomlParser) inlineKeyValue(t *tomlTable, depth int) error {
	if p.atLineEnd() {
		return p.inlineEndError("expected a key in an inline table, found %s")
	}
	line := p.line
	path, err := p.key()
	if err != nil {
		return err
	}
	if depth+len(path) > tomlMaxDepth {
		return p.errorf("arrays and tables are nested deeper than %d levels", tomlMaxDepth)
	}
	v, err := p.assignment(path, depth+len(path))
	if err != nil {
		return err
	}
	return p.set(t, path, path, v, line)
}

// inlineEndError explains an unexpected character in an inline table, format having one %s.
func (p *tomlParser) inlineEndError(format string) error {
	if p.atLineEnd() {
		return p.errorf("inline table not closed with '}' on its line (inline tables are one line; use a [table] for more)")
	}
	return p.errorf(format, p.found())
}
